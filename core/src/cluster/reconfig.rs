//! Membership changes in the model (issue 27, DESIGN.md "Membership changes"): the plan of
//! configurations a run goes through, the administrator's step that proposes the next one, and
//! what the checkers ask of every entry across a change.
//!
//! The administrator plays the change's coordinator: it proposes epoch `k + 1` by handing the
//! configuration to one live node (which tells every other node, as the daemon does), and only
//! once the nodes that moved past epoch `k - 1` with no vote left for a request of it meet every
//! quorum of that epoch ([`crate::member::Member::drained`], [`QuorumSystem::blocks`]). The
//! configuration of epoch `k + 1` carries the largest journal floor of those nodes, so tokens
//! keep increasing across the change.

use super::{Cluster, Violation};
use crate::id::{Epoch, NodeId, RequestId, Token};
use crate::member::{LockAction, Member};
use crate::quorum::QuorumSystem;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Which membership change a run makes, on nodes `0..n` (the model's universe).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// From nodes `0..n-1` to `0..n`: node `n - 1` joins.
    Add,
    /// From nodes `0..n` to `0..n-1`: node `n - 1` leaves.
    Remove,
    /// From nodes `0..n-1` to `0..n-2` and `n - 1`: node `n - 2` (which may die first) is
    /// replaced by node `n - 1`, a new host with an empty disk.
    Replace,
}

impl Change {
    /// The name the command line takes (`--change add`).
    pub fn name(self) -> &'static str {
        match self {
            Change::Add => "add",
            Change::Remove => "remove",
            Change::Replace => "replace",
        }
    }

    /// The change named `name`, as the command line gives it.
    pub fn parse(name: &str) -> Option<Change> {
        [Change::Add, Change::Remove, Change::Replace]
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// The members before and after the change, over nodes `0..n`.
    pub fn members(self, n: u32) -> (Vec<NodeId>, Vec<NodeId>) {
        let ids = |r: std::ops::Range<u32>| r.map(NodeId).collect::<Vec<_>>();
        match self {
            Change::Add => (ids(0..n - 1), ids(0..n)),
            Change::Remove => (ids(0..n), ids(0..n - 1)),
            Change::Replace => {
                let mut after = ids(0..n - 2);
                after.push(NodeId(n - 1));
                (ids(0..n - 1), after)
            }
        }
    }

    /// The node the change takes out, if any: it may die before the change (a failed host).
    pub fn leaving(self, n: u32) -> Option<NodeId> {
        match self {
            Change::Add => None,
            Change::Remove => Some(NodeId(n - 1)),
            Change::Replace => Some(NodeId(n - 2)),
        }
    }
}

/// A run's membership change and the checkers' mutations of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChangeModel {
    /// The change the run makes (none: a fixed membership).
    pub change: Option<Change>,
    /// Through the joint configuration (off only to show the checkers catch the overlap).
    pub joint: bool,
    /// Each proposal waits for the drain (off only to show the checkers catch the overlap).
    pub drain: bool,
}

impl Default for ChangeModel {
    fn default() -> Self {
        ChangeModel {
            change: None,
            joint: true,
            drain: true,
        }
    }
}

/// The configurations a run goes through, by epoch: the old one, the joint one, the new one
/// (without the joint one when the checkers' mutation skips it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    /// The quorum system of each epoch.
    pub systems: Vec<Arc<QuorumSystem>>,
}

impl Plan {
    /// The plan of `change` over nodes `0..n` on grid quorums; `joint` false is the mutation
    /// that goes from the old configuration straight to the new one.
    pub fn of(change: Change, n: u32, joint: bool) -> Plan {
        let (before, after) = change.members(n);
        let old = Arc::new(QuorumSystem::grid(&before));
        let new = Arc::new(QuorumSystem::grid(&after));
        let mut systems = vec![old.clone()];
        if joint {
            systems.push(Arc::new(QuorumSystem::joint(old, new.clone())));
        }
        systems.push(new);
        Plan { systems }
    }

    /// The system of `epoch`.
    pub fn system(&self, epoch: Epoch) -> &Arc<QuorumSystem> {
        &self.systems[epoch.0 as usize]
    }
}

impl Cluster {
    /// The configuration epoch proposed last (0 before the change starts).
    pub fn proposed(&self) -> Epoch {
        self.proposed
    }

    /// What the administrator may propose now, with the floor it carries: the next epoch,
    /// once a set of live nodes drained of the epoch before the current one meets every quorum
    /// of it; or the current one again, when no live node has it any more (the only node that
    /// had adopted it lost its disk), as `maekawa cluster` run again does.
    pub(super) fn may_propose(&self) -> Option<(Epoch, Token)> {
        let plan = self.plan.as_ref()?;
        let live = || {
            self.nodes
                .iter()
                .filter(|m| !self.stopped.contains(&m.id()))
        };
        if self.proposed.0 > 0 && live().all(|m| m.epoch() < self.proposed) {
            let floor = self.config_floors[self.proposed.0 as usize];
            return Some((self.proposed, floor));
        }
        let next = Epoch(self.proposed.0 + 1);
        if next.0 as usize >= plan.systems.len() {
            return None;
        }
        let floor = live().map(|m| m.journal_floor()).max().unwrap_or(Token(0));
        if self.proposed.0 == 0 || !self.drain_proposal {
            return Some((next, floor));
        }
        let before = Epoch(self.proposed.0 - 1);
        let drained: Vec<&Member> = live()
            .filter(|m| m.drained(before, None))
            .map(|m| &**m)
            .collect();
        let set: BTreeSet<NodeId> = drained.iter().map(|m| m.id()).collect();
        plan.system(before).blocks(&set).then(|| {
            let floor = drained.iter().map(|m| m.journal_floor()).max();
            (next, floor.unwrap_or(Token(0)))
        })
    }

    /// The administrator proposes `epoch` (the next, or the current again): the lowest live
    /// node adopts it (and tells every other). Returns that node and what it does.
    pub(super) fn propose(&mut self, epoch: Epoch, floor: Token) -> (NodeId, Vec<LockAction>) {
        let plan = self.plan.clone().expect("a plan");
        if epoch > self.proposed {
            self.proposed = epoch;
            self.config_floors.push(floor);
        }
        let coordinator = (0..self.nodes.len() as u32)
            .map(NodeId)
            .find(|id| !self.stopped.contains(id))
            .expect("a live node");
        let actions = self.adopt(coordinator, epoch, plan.system(epoch).clone());
        (coordinator, actions)
    }

    /// Node `id` adopts `epoch` (made durable first, as the daemon does): a node the new
    /// configuration does not have makes no more requests.
    pub(super) fn adopt(
        &mut self,
        id: NodeId,
        epoch: Epoch,
        system: Arc<QuorumSystem>,
    ) -> Vec<LockAction> {
        let floor = self.config_floors[epoch.0 as usize];
        self.journals[id.0 as usize].epoch = epoch;
        if system.quorum(id).is_empty() && self.proposed == epoch {
            self.remaining[id.0 as usize] = 0;
        }
        self.node_mut(id).adopt(epoch, system, floor)
    }

    /// Before `to` handles something from a node in configuration `epoch`: it adopts that
    /// configuration first if it is newer (the daemon's `Config` precedes anything of a new
    /// epoch on a link).
    pub(super) fn catch_up(&mut self, to: NodeId, epoch: Epoch) -> Vec<LockAction> {
        match &self.plan {
            Some(plan) if epoch > self.node(to).epoch() => {
                let system = plan.system(epoch).clone();
                self.adopt(to, epoch, system)
            }
            _ => Vec::new(),
        }
    }

    /// The system a restarted node starts with: its journal's epoch's (0 after a lost disk).
    pub(super) fn restart_system(&self, id: NodeId) -> (Epoch, Arc<QuorumSystem>, Token) {
        let epoch = self.journals[id.0 as usize].epoch;
        match &self.plan {
            Some(plan) => (
                epoch,
                plan.system(epoch).clone(),
                self.config_floors[epoch.0 as usize],
            ),
            None => (epoch, self.node(id).system().clone(), Token(0)),
        }
    }

    /// True when `id` may make a request: the configuration it is in has it as a member.
    pub(super) fn is_member(&self, id: NodeId) -> bool {
        !self.node(id).system().quorum(id).is_empty()
    }

    /// What a change asks of an entry of `node` with request `req`, holding the grants of
    /// `voters`: its votes hold a quorum of its configuration (for the joint one: of the old
    /// and of the new), and its configuration is one of the two newest proposed (an entry of
    /// an older one could miss the newest's quorums).
    pub(super) fn check_entry_config(
        &mut self,
        node: NodeId,
        req: RequestId,
        voters: &BTreeSet<NodeId>,
    ) {
        let Some(plan) = &self.plan else { return };
        if self.config_error.is_some() {
            return;
        }
        let system = plan.system(req.epoch);
        if !system.contains_quorum(voters) {
            self.config_error = Some(Violation::EntryWithoutQuorum {
                node,
                req,
                voters: voters.clone(),
            });
        } else if req.epoch.0 + 1 < self.proposed.0 {
            self.config_error = Some(Violation::StaleConfiguration {
                node,
                req,
                proposed: self.proposed,
            });
        }
    }
}

impl Cluster {
    /// This cluster with membership change `change` to make during the run (none: as it
    /// was): every node starts in the old configuration, and [`Step::Propose`] moves the run
    /// through the [`Plan`]. `joint` false skips the joint configuration and `drain` false
    /// proposes without waiting for the drain: the checkers' mutations.
    ///
    /// [`Step::Propose`]: super::Step::Propose
    pub fn with_change(mut self, model: ChangeModel) -> Cluster {
        let ChangeModel {
            change,
            joint,
            drain,
        } = model;
        let Some(change) = change else { return self };
        let n = self.nodes.len() as u32;
        let plan = Plan::of(change, n, joint);
        let start = plan.systems[0].clone();
        self.survivable = plan.systems.iter().map(|s| s.survives()).min().unwrap_or(0);
        for m in self.nodes.iter_mut() {
            let id = m.id();
            let mut fresh = Member::with_system(id, start.clone(), m.options());
            for peer in (0..n).map(NodeId).filter(|&p| p != id) {
                fresh.assume_peer(peer, crate::id::Incarnation(1));
            }
            *m = Arc::new(fresh);
        }
        self.plan = Some(Arc::new(plan));
        self.drain_proposal = drain;
        self
    }
}
