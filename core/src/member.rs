//! Named locks: one cluster member running the protocol of a [`Node`] independently per lock
//! name (PROTOCOL.md §6), over the same quorum, incarnation, peers, Lamport clock and token
//! floor. The member owns that shared state once and lends it (`&mut`) to the rules of the lock
//! an input concerns; a lock keeps only its own phase, quorum and bookkeeping.
//!
//! A lock nobody uses costs nothing: a lock's state is dropped as soon as it is quiet (idle,
//! unlocked, no queue, see [`Node::is_quiet`]) and made again, from the shared state, when a
//! message or a request for it arrives. A quiet node behaves exactly as a fresh one, so this is
//! invisible to the protocol, with one exception that [`crate::protocol::MsgKind::Resync`] covers: a requester
//! sends a `Sync` on a new link only for the locks it keeps state for, so a restarted voter
//! asks about each vote its journal restored.
//!
//! The shared token floor makes tokens grow across all locks of the cluster (as etcd's
//! revisions do), which is more than per-lock monotonicity needs and costs one number per node.

use crate::id::{Incarnation, Lamport, NodeId, RequestId, Token};
use crate::protocol::{
    mark_suspected, Action, LockState, Message, MsgKind, NodeMut, NodeRef, Options, Phase,
    ProtocolError, Shared,
};
use crate::quorum::QuorumSystem;
// Named in the documentation, whose links resolve to it.
#[cfg(doc)]
use crate::protocol::Node;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

mod epoch;

/// A lock's name. Cheap to clone: every action and message about a lock carries it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockName(Arc<str>);

impl LockName {
    /// The emulated critical section of the daemon's workloads (PROTOCOL.md §4).
    pub const CS: &'static str = "cs";

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for LockName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<&str> for LockName {
    fn from(s: &str) -> LockName {
        LockName(Arc::from(s))
    }
}

impl fmt::Display for LockName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An action of one lock's protocol run, with the lock it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockAction {
    /// The lock.
    pub lock: LockName,
    /// What to do.
    pub action: Action,
}

/// One member of the cluster: a protocol run per lock in use, and what they share.
///
/// The shared state (incarnation, quorums, suspicions, peers, clocks, token floor) lives here
/// once; each input lends it (`&mut`) to the rules of the one lock it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Member {
    shared: Shared,
    /// The own quorum, asked while nobody is suspected.
    quorum: Arc<[NodeId]>,
    locks: BTreeMap<LockName, LockState>,
}

impl Member {
    /// A member that starts with no lock in use; `quorum` is the set of voters it must win.
    pub fn new(me: NodeId, quorum: &[NodeId], options: Options) -> Member {
        let system = QuorumSystem::explicit(BTreeMap::from([(me, quorum.to_vec())]));
        Member::with_system(me, Arc::new(system), options)
    }

    /// A member that may use any quorum of `system` (its own while nobody is suspected).
    pub fn with_system(me: NodeId, system: Arc<QuorumSystem>, options: Options) -> Member {
        Member {
            quorum: system.quorum(me).into(),
            shared: Shared::new(me, system, options),
            locks: BTreeMap::new(),
        }
    }

    /// A member after a (re)start as incarnation `incarnation`, with the votes (lock name and
    /// request) and the token floor its journal kept. See [`Node::restore`]; besides, every
    /// restored vote of another node's request asks that node to resync.
    #[must_use = "the actions must be carried out"]
    pub fn restore(
        me: NodeId,
        quorum: &[NodeId],
        incarnation: Incarnation,
        votes: &[(LockName, RequestId)],
        floor: Token,
        options: Options,
    ) -> (Member, Vec<LockAction>) {
        let system = QuorumSystem::explicit(BTreeMap::from([(me, quorum.to_vec())]));
        Member::restore_in(me, Arc::new(system), incarnation, votes, floor, options, 0)
    }

    /// As [`Member::restore`], for a member that may use any quorum of `system`, whose clock
    /// reads `now`: a restored vote is reclaimed no earlier than a full reclaim period later,
    /// whatever the dead process had confirmed.
    #[must_use = "the actions must be carried out"]
    pub fn restore_in(
        me: NodeId,
        system: Arc<QuorumSystem>,
        incarnation: Incarnation,
        votes: &[(LockName, RequestId)],
        floor: Token,
        options: Options,
        now: u64,
    ) -> (Member, Vec<LockAction>) {
        let mut member = Member::with_system(me, system, options);
        let shared = &mut member.shared;
        shared.now = now;
        shared.incarnation = incarnation;
        shared.floor = floor;
        shared.reserved = floor;
        let mut out = Vec::new();
        let votes = shared.restarted(now, votes);
        for (lock, req) in votes {
            let (mut state, actions) = LockState::restored(shared, Some(*req));
            let mut rules = NodeMut::new(shared, &mut state);
            rules.voter_since(now);
            let resync = rules.resync_restored_vote();
            tag(&mut out, lock, actions);
            tag(&mut out, lock, resync);
            if !state.is_quiet() {
                member.locks.insert(lock.clone(), state);
            }
        }
        (member, out)
    }

    /// A member whose journal is gone (a lost disk, or a new host for this id) started as
    /// incarnation `incarnation` at `now`: it restores no vote and its token floor is 0, so it
    /// grants nothing until it has heard the floor of a node of every quorum it is in
    /// ([`Options::floor_witnesses`]), and, with leases and an incarnation above 1 (its peers
    /// knew an earlier one), not for a reclaim period either: a vote it forgot may still carry
    /// a lease. DESIGN.md, "A lost disk".
    pub fn rejoin(
        me: NodeId,
        system: Arc<QuorumSystem>,
        incarnation: Incarnation,
        options: Options,
        now: u64,
    ) -> Member {
        let (mut member, freed) =
            Member::restore_in(me, system, incarnation, &[], Token(0), options, now);
        debug_assert!(freed.is_empty(), "no vote restored, none freed");
        member.lost_journal(now);
        member
    }

    /// This member's journal was lost before this start, or since (a lost disk whose floor
    /// was not learned and recorded again before the next crash): with leases and an
    /// incarnation its peers knew it is quiet for a reclaim period, and it grants nothing
    /// before its floor witnesses are heard ([`Member::rejoin`]).
    pub fn lost_journal(&mut self, now: u64) {
        self.shared.lost_journal(now);
    }

    /// True while this member, having lost its journal, waits to hear the token floor of a
    /// node of every quorum it is in before it grants.
    pub fn awaits_floor(&self) -> bool {
        self.shared.witnesses.is_some()
    }

    /// True when this member's floor covers every token it confirmed: it can be a floor witness
    /// (it does not wait for witnesses itself, or it is a first start).
    pub fn knows_floor(&self) -> bool {
        self.shared.knows_floor()
    }

    /// While [`Member::awaits_floor`]: the peers whose floor it has heard so far.
    pub fn floor_witnesses(&self) -> Option<&BTreeSet<NodeId>> {
        self.shared.witnesses.as_deref()
    }

    /// Records a peer's incarnation learned out of band (the checkers' initial state).
    pub fn assume_peer(&mut self, peer: NodeId, incarnation: Incarnation) {
        Arc::make_mut(&mut self.shared.peers).insert(peer, incarnation);
    }

    /// This member's id.
    pub fn id(&self) -> NodeId {
        self.shared.me
    }

    /// This member's incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.shared.incarnation
    }

    /// The quorum this member asks while nobody is suspected, sorted.
    pub fn quorum(&self) -> &[NodeId] {
        &self.quorum
    }

    /// Every quorum this member may use.
    pub fn system(&self) -> &Arc<QuorumSystem> {
        &self.shared.system
    }

    /// The peers this member suspects.
    pub fn suspected(&self) -> &BTreeSet<NodeId> {
        &self.shared.suspected
    }

    /// The clock as of the last input.
    pub fn now(&self) -> u64 {
        self.shared.now
    }

    /// True when [`Member::tick`] at `now` would do something (see [`Node::wants_tick`]).
    pub fn wants_tick(&self, now: u64) -> bool {
        self.locks().any(|(_, node)| node.wants_tick(now))
    }

    /// The clock reads `now` (it never goes back): inputs that follow use it. Unlike
    /// [`Member::tick`] this changes nothing else, as when a timer is late.
    pub fn set_now(&mut self, now: u64) {
        self.shared.now = self.shared.now.max(now);
    }

    /// The clock moved to `now`: see [`Node::tick`], applied to every lock in use. Call it
    /// before every other input, and on a timer (a tenth of the lease is plenty).
    #[must_use = "the actions must be carried out"]
    pub fn tick(&mut self, now: u64) -> Vec<LockAction> {
        self.set_now(now);
        self.for_every_lock(|rules, out| out.extend(rules.tick(now)))
    }

    /// This member now suspects `peer` (or no longer does): see [`Node::set_suspected`],
    /// applied to every lock in use. A lock made later starts with the same suspicions.
    #[must_use = "the actions must be carried out"]
    pub fn set_suspected(&mut self, peer: NodeId, suspected: bool) -> Vec<LockAction> {
        let me = self.shared.me;
        if !mark_suspected(&mut self.shared.suspected, me, peer, suspected) {
            return Vec::new();
        }
        self.for_every_lock(|rules, out| rules.react_to_suspicion(out))
    }

    /// Until when this restarted member grants nothing, having forgotten its votes
    /// ([`Options::forget_votes`]); 0 when it may grant.
    pub fn quiet_until(&self) -> u64 {
        self.shared.quiet_until
    }

    /// The checker-only switches.
    pub fn options(&self) -> Options {
        self.shared.options
    }

    /// The Lamport clock (one for all locks).
    pub fn clock(&self) -> Lamport {
        self.shared.clock
    }

    /// The token floor (one for all locks): no entry this member knows of had a larger token.
    pub fn floor(&self) -> Token {
        self.shared.floor
    }

    /// The floor its journal holds: see [`Node::journal_floor`]. What its Hello announces.
    pub fn journal_floor(&self) -> Token {
        self.shared.journal_floor()
    }

    /// The protocol state of `lock`, if it is in use here.
    pub fn lock(&self, lock: &str) -> Option<NodeRef<'_>> {
        let state = self.locks.get(lock)?;
        Some(NodeRef::new(&self.shared, state))
    }

    /// Every lock in use here, by name.
    pub fn locks(&self) -> impl Iterator<Item = (&LockName, NodeRef<'_>)> {
        self.locks
            .iter()
            .map(|(name, state)| (name, NodeRef::new(&self.shared, state)))
    }

    /// The requester's phase for `lock` (`Idle` when the lock is not in use here).
    pub fn phase(&self, lock: &str) -> Phase {
        self.lock(lock).map_or(Phase::Idle, |n| n.phase())
    }

    /// Wants `lock`: see [`Node::request_cs`].
    #[must_use = "the actions must be carried out"]
    pub fn request_cs(&mut self, lock: &LockName) -> Result<Vec<LockAction>, ProtocolError> {
        self.with_lock(lock, |rules| rules.request_cs())
    }

    /// Leaves `lock`: see [`Node::exit_cs`].
    #[must_use = "the actions must be carried out"]
    pub fn exit_cs(&mut self, lock: &LockName) -> Result<Vec<LockAction>, ProtocolError> {
        self.with_lock(lock, |rules| rules.exit_cs())
    }

    /// Withdraws the waiting request for `lock`: see [`Node::cancel_cs`].
    #[must_use = "the actions must be carried out"]
    pub fn cancel_cs(&mut self, lock: &LockName) -> Result<Vec<LockAction>, ProtocolError> {
        self.with_lock(lock, |rules| rules.cancel_cs())
    }

    /// A message about `lock` arrived from `from`: see [`Node::handle`].
    #[must_use = "the actions must be carried out"]
    pub fn handle(&mut self, from: NodeId, lock: &LockName, msg: Message) -> Vec<LockAction> {
        if msg.kind == MsgKind::Floor {
            return self.on_floor(from, msg);
        }
        if msg.kind == MsgKind::Config {
            return self.on_config(from, msg);
        }
        let out = self.with_lock(lock, |rules| Ok(rules.handle(from, msg)));
        out.unwrap_or_default()
    }

    /// A link to `peer` came up and `peer` says it is incarnation `incarnation`, with token
    /// floor `floor`: see [`Node::peer_incarnation`], applied to every lock in use.
    #[must_use = "the actions must be carried out"]
    pub fn peer_incarnation(
        &mut self,
        peer: NodeId,
        incarnation: Incarnation,
        floor: Token,
    ) -> Vec<LockAction> {
        self.shared.floor = self.shared.floor.max(floor);
        if !self.shared.learn_peer(peer, incarnation) {
            return Vec::new();
        }
        self.for_every_lock(|rules, out| rules.reconcile_peer(out, peer, incarnation))
    }

    /// The Hello of `peer`'s new process says it lost its journal and waits for floor
    /// witnesses: if this member's floor is whole, it sends its `Floor` (its journal floor
    /// covers every token it confirmed).
    #[must_use = "the actions must be carried out"]
    pub fn peer_wants_floor(&mut self, peer: NodeId) -> Vec<LockAction> {
        if peer == self.shared.me || !self.shared.knows_floor() {
            return Vec::new();
        }
        let msg = self.shared.floor_message();
        vec![floor_action(peer, msg)]
    }

    /// A peer's `Floor`: its journal floor, which covers every token it confirmed. A node
    /// that lost its journal counts it as a witness; once the witnesses cover every quorum it
    /// is in, it records the floor, serves the requests that queued meanwhile and tells every
    /// peer its own floor (it is a witness now).
    fn on_floor(&mut self, from: NodeId, msg: Message) -> Vec<LockAction> {
        let s = &mut self.shared;
        s.floor = s.floor.max(msg.token);
        s.clock = s.clock.max(msg.lamport).max(s.floor.as_lamport()).next();
        if !s.heard_floor_from(Some(from)) {
            return Vec::new();
        }
        self.floor_wait_ended()
    }

    /// The wait for floor witnesses just ended: the floor is recorded, every peer is told it
    /// (this member is a witness now) and the requests that queued meanwhile are served.
    fn floor_wait_ended(&mut self) -> Vec<LockAction> {
        let s = &mut self.shared;
        if s.floor > s.reserved {
            s.reserved = s.floor.plus(crate::protocol::TOKEN_BLOCK - 1);
        }
        // Recorded even when 0: the record says the journal is whole again.
        let mut out = vec![LockAction {
            lock: LockName::from(LockName::CS),
            action: Action::PersistFloor {
                floor: s.journal_floor(),
            },
        }];
        if s.incarnation > Incarnation(1) {
            let peers: Vec<NodeId> = s.system.nodes().filter(|&p| p != s.me).collect();
            for peer in peers {
                let msg = self.shared.floor_message();
                out.push(floor_action(peer, msg));
            }
        }
        out.extend(self.for_every_lock(|rules, out| rules.grant_after_quiet(out)));
        out
    }

    /// Runs `f` on every lock in use, in name order, dropping each lock that ends quiet.
    fn for_every_lock(
        &mut self,
        mut f: impl FnMut(&mut NodeMut<'_>, &mut Vec<Action>),
    ) -> Vec<LockAction> {
        let names: Vec<LockName> = self.locks.keys().cloned().collect();
        let mut out = Vec::new();
        for lock in names {
            let actions = self.with_lock(&lock, |rules| {
                let mut actions = Vec::new();
                f(rules, &mut actions);
                Ok(actions)
            });
            out.extend(actions.unwrap_or_default());
        }
        out
    }

    /// Runs `f` on `lock`'s rules with the shared state lent to them (the lock's state made
    /// fresh if it is not in use), and drops the lock's state again if it is quiet.
    fn with_lock(
        &mut self,
        lock: &LockName,
        f: impl FnOnce(&mut NodeMut<'_>) -> Result<Vec<Action>, ProtocolError>,
    ) -> Result<Vec<LockAction>, ProtocolError> {
        let shared = &mut self.shared;
        let state = self
            .locks
            .entry(lock.clone())
            .or_insert_with(|| LockState::new(shared));
        let result = f(&mut NodeMut::new(shared, state));
        if state.is_quiet() {
            self.locks.remove(lock);
        }
        let mut out = Vec::new();
        tag(&mut out, lock, result?);
        Ok(out)
    }
}

/// A `Floor` to `to`, tagged with the lock `cs` (it is about none).
fn floor_action(to: NodeId, msg: Message) -> LockAction {
    LockAction {
        lock: LockName::from(LockName::CS),
        action: Action::Send { to, msg },
    }
}

fn tag(out: &mut Vec<LockAction>, lock: &LockName, actions: Vec<Action>) {
    out.extend(actions.into_iter().map(|action| LockAction {
        lock: lock.clone(),
        action,
    }));
}
