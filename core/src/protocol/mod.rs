//! The algorithm: Maekawa's quorum voting with Sanders' deadlock correction, as a pure state
//! machine (PROTOCOL.md §2).
//!
//! A [`Node`] is both a requester and a voter. Inputs are [`Node::request_cs`],
//! [`Node::exit_cs`] and [`Node::handle`]; each returns the [`Action`]s the caller must carry
//! out, in order. This module must never do I/O, read a clock, spawn a task or know about the
//! wire format: that is what lets the simulator and the exhaustive explorer drive the very code
//! the daemon runs through millions of interleavings.
//!
//! Messages a node sends to itself are ordinary [`Action::Send`]s with `to == me`; the caller
//! delivers them back through [`Node::handle`] like any other message.
//!
//! This file holds the node's state, its constructors and accessors, and the dispatch of a
//! message to its rule. The rules live by role, each file one `impl Node` block: `messages`
//! (what goes in and out), `requester` (asking for votes, entering, yielding), `voter` (granting,
//! queueing, Sanders' FAILED), `leases` (fencing rounds, renewal, expiry, reclaiming a vote),
//! `revote` (reconciliation with a peer's new incarnation, PROTOCOL.md §3) and `suspicion`
//! (routing around suspected nodes).

mod epoch;
mod leases;
mod messages;
mod rejoin;
mod requester;
mod revote;
mod suspicion;
mod voter;

pub use messages::{Action, LogEvent, Message, MsgKind, RevoteKind};
pub(crate) use suspicion::mark_suspected;

use crate::id::{Epoch, Incarnation, Lamport, NodeId, RequestId, Token};
use crate::quorum::QuorumSystem;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Where the requester side of a node stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Not interested in the CS.
    Idle,
    /// Collecting votes for this request.
    Wanting(RequestId),
    /// In the critical section with this request.
    InCs(RequestId),
}

/// Why an input was refused: the caller asked for something the state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// `request_cs` while a request is already wanting or in the CS.
    #[error("node {node} already has request {req} outstanding")]
    AlreadyRequesting {
        /// This node.
        node: NodeId,
        /// The outstanding request.
        req: RequestId,
    },
    /// `exit_cs` while not in the CS.
    #[error("node {node} is not in the critical section")]
    NotInCs {
        /// This node.
        node: NodeId,
    },
    /// `request_cs` on a node the current configuration does not have as a member (it was
    /// removed, or has not been added yet).
    #[error("node {node} is not a member of the cluster's current configuration")]
    NotMember {
        /// This node.
        node: NodeId,
    },
    /// `cancel_cs` while no request waits for votes.
    #[error("node {node} has no request waiting for votes")]
    NotWaiting {
        /// This node.
        node: NodeId,
    },
}

/// Tokens a node reserves on disk at a time: an entry whose token is within the reservation
/// needs no fsync of its own; one past it reserves the next block first. After a restart the
/// node's floor is its last reservation, so tokens then jump by at most this much.
/// Tokens follow the Lamport clock (a fast entry's token is its request's timestamp, see
/// [`Options::fast_grants`]), which moves by every message, so the block is large: one fsync per
/// 2^20 ticks of the clock, not per thousand.
pub const TOKEN_BLOCK: u64 = 1 << 20;

/// A GRANT's `echo` when the voter confirmed the request's timestamp as its token
/// ([`Options::fast_grants`]); 0 otherwise.
pub const GRANT_CONFIRMS: u64 = 1;

/// Switches that exist only to prove the checkers are not vacuous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Options {
    /// Sanders' rule: when a voter's lock changes, send FAILED to every lower-priority queued
    /// request that has not had one. Turning it off reintroduces Maekawa's original deadlock.
    pub lock_change_failed: bool,
    /// A voter raises its token floor to the one a RELEASE carries. Turning it off lets the
    /// next holder's token be no larger than the last one's.
    pub release_carries_token: bool,
    /// A withdrawn request sends RELEASE to its quorum. Turning it off leaves the votes and
    /// queue entries it had behind.
    pub cancel_releases: bool,
    /// Leases: a requester holding every vote confirms its token with its voters (`Fence`)
    /// before it enters, renews while it stays, and leaves when the lease runs out; a voter may
    /// then reclaim the vote of a suspected requester. Off: Maekawa's votes without time,
    /// which never reclaims (a dead holder blocks its voters forever).
    pub leases: bool,
    /// A voter reclaims a confirmed vote only once a full reclaim period has passed since the
    /// holder last renewed. Turning it off (reclaiming at once) shows the checker catches two
    /// holders with live leases.
    pub reclaim_waits: bool,
    /// A holder's renewal counts only once every voter of its quorum confirmed it. Turning it
    /// off (the first confirmation is enough, usually the holder's own) lets a holder keep a
    /// lease its voters already reclaimed: a defect the simulated cluster must catch (issue 25).
    pub renew_waits_for_all: bool,
    /// Fast grants (issue 26): a voter whose floor is below a request's timestamp confirms that
    /// timestamp as the request's token in its GRANT (made durable first, the vote then held
    /// as confirmed), and a requester whose every grant confirmed enters at once with that
    /// token and a lease from its request's making, with no `Fence` round. Off: every entry
    /// confirms its token with a `Fence` round (the protocol of issue 14).
    pub fast_grants: bool,
    /// A voter confirms a request's timestamp as its token only when its floor is below it.
    /// Turning it off shows the checkers catch the repeated or smaller token.
    pub grant_checks_floor: bool,
    /// A fast entry's lease runs from its request's making (before any voter granted). Turning
    /// it off (from the entry) shows the checkers catch a lease that outlives a reclaim.
    pub lease_from_request: bool,
    /// With leases, votes are not journaled: a restarted voter has forgotten whom it voted
    /// for, and grants nothing for a full reclaim period after its restart (by then every
    /// lease its votes carried has run out: a holder's renewal needs this voter's `Fenced`, which
    /// the new process does not give). Takes the journal's fsync off the hand-over (issue 26).
    /// Off: every lock change is journaled before its GRANT leaves, as without leases.
    pub forget_votes: bool,
    /// A voter that forgot its votes in a restart waits a reclaim period before it grants.
    /// Turning it off shows the checkers catch the second holder it lets in.
    pub quarantine: bool,
    /// A voter that lost its journal (a lost disk, a new host) grants nothing until it has
    /// heard the token floor of a node of every quorum it belongs to ([`QuorumSystem::witnessed`]):
    /// one of them confirmed every token it confirmed before. Turning it off shows the checkers
    /// catch the repeated token it lets through.
    pub floor_witnesses: bool,
    /// The lease term `L`, in the caller's time unit: a holder uses the CS only until `L` after
    /// it sent the last `Fence` every voter confirmed.
    pub lease: u64,
    /// The reclaim period `R` (> `L` with a margin for clock-rate drift): a voter reclaims a
    /// confirmed vote no earlier than `R` after it confirmed it.
    pub reclaim_after: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            lock_change_failed: true,
            release_carries_token: true,
            cancel_releases: true,
            leases: true,
            reclaim_waits: true,
            renew_waits_for_all: true,
            fast_grants: true,
            grant_checks_floor: true,
            lease_from_request: true,
            forget_votes: true,
            quarantine: true,
            floor_witnesses: true,
            lease: DEFAULT_LEASE_MS,
            reclaim_after: DEFAULT_RECLAIM_MS,
        }
    }
}

/// The daemon's lease term, in milliseconds: long enough that a renewal every half term costs
/// little, short enough that a dead holder's votes come back within seconds.
pub const DEFAULT_LEASE_MS: u64 = 3000;

/// The daemon's reclaim period, in milliseconds: the lease plus a second, far more than the
/// drift of two clocks over one lease (DESIGN.md, "Leases and reclaiming votes").
pub const DEFAULT_RECLAIM_MS: u64 = 4000;

/// The requester's bookkeeping for its current request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct RequesterView {
    /// Voters whose grant this node holds.
    pub granted: BTreeSet<NodeId>,
    /// Voters that answered FAILED and have not granted since.
    pub failed: BTreeSet<NodeId>,
    /// Voters this node yielded to and that have not granted again.
    pub yielded: BTreeSet<NodeId>,
    /// Voters whose INQUIRE is not answered yet.
    pub deferred: BTreeSet<NodeId>,
    /// Voters this request withdrew from when it switched quorum: never asked again (a GRANT
    /// of theirs could still be on its way); a quorum that needs one means a new request.
    pub left: BTreeSet<NodeId>,
    /// The token of the entry being confirmed or held (0: none yet).
    pub token: Token,
    /// The clock at the send of the `Fence` round in progress, if one is.
    pub fencing: Option<u64>,
    /// Voters that confirmed the round in progress.
    pub fenced: BTreeSet<NodeId>,
    /// When in the CS: the clock at the send of the last round every voter confirmed. The
    /// lease runs until `lease_from + L`.
    pub lease_from: Option<u64>,
    /// The clock when the request was made: a fast entry's lease runs from here, since every
    /// voter granted after it.
    pub asked_at: u64,
    /// Voters whose grant confirmed the request's timestamp as its token (fast grants).
    pub confirmed: BTreeSet<NodeId>,
}

/// The voter's bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VoterView {
    /// The request that holds this voter's vote.
    pub lock: Option<RequestId>,
    /// Requests waiting for the vote; the first is the highest priority.
    pub queue: BTreeSet<RequestId>,
    /// An INQUIRE is outstanding for the current lock.
    pub inquired: bool,
    /// Queued requests that already know they lost here (sent FAILED, or yielded to us).
    pub told_failed: BTreeSet<RequestId>,
    /// This process has sent the GRANT for the current lock (false only for a lock restored
    /// from the journal and not granted again since).
    pub grant_sent: bool,
    /// The current lock's holder confirmed a `Fence` here: it may be in the CS, so the vote is
    /// reclaimed only a full reclaim period after `since`.
    pub fenced: bool,
    /// The clock when the current lock was granted, restored or last confirmed.
    pub since: u64,
}

/// What every lock of a node shares: identity, incarnation, quorums, suspicions, the caller's
/// clock, peers' incarnations, the Lamport clock and the token floor. A [`Node`] owns one; a
/// [`Member`](crate::member::Member) owns one for all its locks and lends it to each lock's
/// rules ([`NodeMut`]), so nothing is copied in and out.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Shared {
    pub(crate) me: NodeId,
    pub(crate) incarnation: Incarnation,
    /// The epoch of the configuration `system` belongs to: requests are made in it, and only
    /// requests made in it are granted (DESIGN.md, "Membership changes").
    pub(crate) epoch: Epoch,
    // Shared (cheap to clone): the explorer copies states by the million.
    /// Every quorum this node may use.
    pub(crate) system: Arc<QuorumSystem>,
    /// Peers this node suspects of being dead or cut off.
    pub(crate) suspected: Arc<BTreeSet<NodeId>>,
    /// The caller's clock, as of the last input.
    pub(crate) now: u64,
    /// The newest incarnation seen of each peer.
    pub(crate) peers: Arc<BTreeMap<NodeId, Incarnation>>,
    pub(crate) clock: Lamport,
    /// No entry this node knows of (its own included) had a larger fencing token.
    pub(crate) floor: Token,
    /// No token larger than this may be used before a new reservation is on disk.
    pub(crate) reserved: Token,
    pub(crate) options: Options,
    /// A restarted voter that forgot its votes grants nothing before this time
    /// ([`Options::forget_votes`]); 0 otherwise.
    pub(crate) quiet_until: u64,
    /// A voter that lost its journal grants nothing while this is `Some`: the peers whose
    /// Hello (and token floor) it has heard so far, until they witness every quorum it is in
    /// ([`Options::floor_witnesses`]).
    pub(crate) witnesses: Option<Arc<BTreeSet<NodeId>>>,
    /// This process was held back at its start (a quiet period, or waiting for witnesses):
    /// the requests that queued meanwhile are granted once it may grant.
    pub(crate) held_back: bool,
}

impl Shared {
    /// A fresh process's shared state: incarnation 1, clocks and floor at 0, nobody suspected.
    pub(crate) fn new(me: NodeId, system: Arc<QuorumSystem>, options: Options) -> Shared {
        Shared {
            me,
            incarnation: Incarnation(1),
            epoch: Epoch(0),
            system,
            suspected: Arc::default(),
            now: 0,
            peers: Arc::default(),
            clock: Lamport(0),
            floor: Token(0),
            reserved: Token(0),
            options,
            quiet_until: 0,
            witnesses: None,
            held_back: false,
        }
    }

    /// True when votes are not journaled ([`Options::forget_votes`], with leases on).
    pub(crate) fn forgets_votes(&self) -> bool {
        self.options.leases && self.options.forget_votes
    }

    /// A process restarted (incarnation > 1) at `now`: a voter that forgot its votes is quiet
    /// for a reclaim period. Returns the votes to restore: none when they are forgotten.
    pub(crate) fn restarted<'v, T>(&mut self, now: u64, votes: &'v [T]) -> &'v [T] {
        if !self.forgets_votes() {
            return votes;
        }
        self.quiet_after_restart(now);
        &[]
    }

    /// A restarted process (incarnation > 1) whose votes are forgotten grants nothing for a
    /// reclaim period from `now`, by which every lease they carried has run out.
    fn quiet_after_restart(&mut self, now: u64) {
        if self.incarnation > Incarnation(1) && self.options.quarantine {
            self.quiet_until = now.saturating_add(self.options.reclaim_after);
            self.held_back = true;
        }
    }

    /// True while a restarted voter that forgot its votes, or one that lost its journal, may
    /// not grant.
    pub(crate) fn quiet(&self) -> bool {
        self.now < self.quiet_until || self.witnesses.is_some()
    }

    /// See [`Node::journal_floor`].
    pub(crate) fn journal_floor(&self) -> Token {
        self.floor.max(self.reserved)
    }

    /// Records `peer`'s incarnation `incarnation`; false when it is not news (an older or the
    /// same incarnation, or this node itself), which then changes nothing.
    pub(crate) fn learn_peer(&mut self, peer: NodeId, incarnation: Incarnation) -> bool {
        if peer == self.me || self.peers.get(&peer).is_some_and(|&k| k >= incarnation) {
            return false;
        }
        Arc::make_mut(&mut self.peers).insert(peer, incarnation);
        true
    }
}

/// One lock's own protocol state: the quorum it asks, the requester's phase and bookkeeping,
/// the voter's bookkeeping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct LockState {
    /// The quorum of the current request (or the one the next request starts with).
    quorum: Arc<[NodeId]>,
    phase: Phase,
    req: RequesterView,
    voter: VoterView,
}

impl LockState {
    /// A lock nobody uses yet: idle, unlocked, asking `shared`'s own quorum.
    pub(crate) fn new(shared: &Shared) -> LockState {
        LockState {
            quorum: shared.system.quorum(shared.me).into(),
            phase: Phase::Idle,
            req: RequesterView::default(),
            voter: VoterView::default(),
        }
    }

    /// See [`Node::is_quiet`].
    pub(crate) fn is_quiet(&self) -> bool {
        self.phase == Phase::Idle
            && self.voter.lock.is_none()
            && self.voter.queue.is_empty()
            && self.voter.told_failed.is_empty()
            && self.req == RequesterView::default()
    }

    /// The lock state after a (re)start whose journal kept the vote `lock`, and the actions
    /// that frees it if it was this node's own earlier incarnation's (see [`Node::restore`]).
    pub(crate) fn restored(
        shared: &mut Shared,
        lock: Option<RequestId>,
    ) -> (LockState, Vec<Action>) {
        let mut state = LockState::new(shared);
        state.voter.fenced = lock.is_some() && shared.options.leases;
        state.voter.lock = lock;
        let mut out = Vec::new();
        let (me, incarnation) = (shared.me, shared.incarnation);
        if let Some(l) = lock.filter(|l| l.node == me && l.inc < incarnation) {
            out.push(Action::Log(LogEvent::Revote {
                what: RevoteKind::Freed,
                req: l,
                why: "held by this node's own previous incarnation",
            }));
            NodeMut::new(shared, &mut state).grant_next(&mut out);
        }
        (state, out)
    }
}

/// One node's protocol state for one lock: requester and voter in one. It owns its shared
/// state; a [`Member`](crate::member::Member) runs one lock's rules on borrowed shared state
/// instead, through the same code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    shared: Shared,
    lock: LockState,
}

/// A read-only look at one lock of a node: its own state and the shared state. What
/// [`Member::lock`](crate::member::Member::lock) lends out; [`Node::view`] gives one too.
#[derive(Clone, Copy, Debug)]
pub struct NodeRef<'a> {
    /// The node's shared state.
    s: &'a Shared,
    /// The lock's own state.
    l: &'a LockState,
}

/// The protocol's rules, run on one lock's state with the shared state lent (`&mut`): by a
/// [`Node`] on what it owns, by a [`Member`](crate::member::Member) on one of its locks.
#[derive(Debug)]
pub(crate) struct NodeMut<'a> {
    /// The node's shared state, lent.
    s: &'a mut Shared,
    /// The lock's own state.
    l: &'a mut LockState,
}

impl Node {
    /// A node that starts idle and unlocked; `quorum` is the set of voters it must win.
    pub fn new(me: NodeId, quorum: &[NodeId]) -> Node {
        Node::with_options(me, quorum, Options::default())
    }

    /// As [`Node::new`], with checker-only switches. The node may use only `quorum`.
    pub fn with_options(me: NodeId, quorum: &[NodeId], options: Options) -> Node {
        let system = Arc::new(QuorumSystem::explicit(BTreeMap::from([(
            me,
            quorum.to_vec(),
        )])));
        Node::with_system(me, system, options)
    }

    /// A node that may use any quorum of `system`, starting with its own.
    pub fn with_system(me: NodeId, system: Arc<QuorumSystem>, options: Options) -> Node {
        let shared = Shared::new(me, system, options);
        let lock = LockState::new(&shared);
        Node { shared, lock }
    }

    /// A node after a (re)start as incarnation `incarnation`, with the lock and token floor its
    /// journal kept. Its requester side starts idle: a restarted node has lost its CS and its
    /// request. A lock held by this node's own earlier incarnation is freed at once (that
    /// request is dead). Its clock starts at 0 (the caller's clock restarts with the process).
    #[must_use = "the actions must be carried out"]
    pub fn restore(
        me: NodeId,
        quorum: &[NodeId],
        incarnation: Incarnation,
        lock: Option<RequestId>,
        floor: Token,
        options: Options,
    ) -> (Node, Vec<Action>) {
        let system = Arc::new(QuorumSystem::explicit(BTreeMap::from([(
            me,
            quorum.to_vec(),
        )])));
        let mut shared = Shared::new(me, system, options);
        shared.incarnation = incarnation;
        shared.floor = floor;
        shared.reserved = floor;
        let restored: Vec<RequestId> = lock.into_iter().collect();
        let lock = shared.restarted(0, &restored).first().copied();
        let (lock, out) = LockState::restored(&mut shared, lock);
        (Node { shared, lock }, out)
    }

    /// A read-only look at this node, as [`Member::lock`](crate::member::Member::lock) gives.
    pub fn view(&self) -> NodeRef<'_> {
        NodeRef {
            s: &self.shared,
            l: &self.lock,
        }
    }

    /// The rules, on this node's own state.
    fn rules(&mut self) -> NodeMut<'_> {
        NodeMut::new(&mut self.shared, &mut self.lock)
    }

    /// Records a peer's incarnation learned out of band (the checkers' initial state), without
    /// the reconciliation [`Node::peer_incarnation`] performs.
    pub fn assume_peer(&mut self, peer: NodeId, incarnation: Incarnation) {
        Arc::make_mut(&mut self.shared.peers).insert(peer, incarnation);
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.view().id()
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> Incarnation {
        self.view().incarnation()
    }

    /// The checker-only switches this node runs with.
    pub fn options(&self) -> Options {
        self.view().options()
    }

    /// The voters this node must win, sorted.
    pub fn quorum(&self) -> &[NodeId] {
        self.view().quorum()
    }

    /// The Lamport clock.
    pub fn clock(&self) -> Lamport {
        self.view().clock()
    }

    /// The token floor: no entry this node knows of had a larger fencing token.
    pub fn floor(&self) -> Token {
        self.view().floor()
    }

    /// What the journal records as the floor: the floor or the reservation, whichever is
    /// larger, so a restarted node never issues a token it may have used.
    pub fn journal_floor(&self) -> Token {
        self.view().journal_floor()
    }

    /// Where the requester side stands.
    pub fn phase(&self) -> Phase {
        self.view().phase()
    }

    /// The requester's bookkeeping for the current request.
    pub fn requester(&self) -> &RequesterView {
        self.view().requester()
    }

    /// The voter's bookkeeping.
    pub fn voter(&self) -> &VoterView {
        self.view().voter()
    }

    /// True when this lock's state is the same as a fresh node's: idle, unlocked, no queue.
    /// Such a state can be dropped and made again when needed.
    pub fn is_quiet(&self) -> bool {
        self.lock.is_quiet()
    }

    /// True when [`Node::tick`] at `now` would do something: renew or end a lease, or reclaim
    /// a vote. Lets a model skip timer steps that change nothing.
    pub fn wants_tick(&self, now: u64) -> bool {
        self.view().wants_tick(now)
    }

    /// The node wants the CS: make a new request and ask every voter of the quorum.
    #[must_use = "the actions must be carried out"]
    pub fn request_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        self.rules().request_cs()
    }

    /// The node leaves the CS: give every vote back.
    #[must_use = "the actions must be carried out"]
    pub fn exit_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        self.rules().exit_cs()
    }

    /// The node withdraws a request that still waits for votes: every voter of its quorum gets a
    /// RELEASE, which frees the vote it gave or drops the queued request (links are FIFO, so the
    /// REQUEST is there first); a GRANT still on its way is handed back when it arrives (the
    /// GRANT rule for a request that is not current). No entry happened, so no token is used.
    #[must_use = "the actions must be carried out"]
    pub fn cancel_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        self.rules().cancel_cs()
    }

    /// A message arrived from `from` (possibly this node itself).
    ///
    /// Contract with the transport: nothing sent by a dead incarnation of `from` is handed in
    /// after [`Node::peer_incarnation`] announced its successor (messages carry the requester's
    /// incarnation in the request id, not the sender's).
    #[must_use = "the actions must be carried out"]
    pub fn handle(&mut self, from: NodeId, msg: Message) -> Vec<Action> {
        self.rules().handle(from, msg)
    }

    /// A link to `peer` came up and `peer` says it is incarnation `incarnation` (PROTOCOL.md
    /// §3). If that is news, reconcile: as a voter, forget what `peer`'s older incarnations
    /// asked for (freeing a vote they held); as a requester, tell `peer` (if it votes for us)
    /// which request we have now, since a restarted voter lost its queue.
    ///
    /// `floor` is the peer's token floor, which its journal kept: raising ours to it before a
    /// vote the peer's dead incarnation held is freed keeps the next holder's token above the
    /// token of an entry that dead incarnation made and never released.
    #[must_use = "the actions must be carried out"]
    pub fn peer_incarnation(
        &mut self,
        peer: NodeId,
        incarnation: Incarnation,
        floor: Token,
    ) -> Vec<Action> {
        let mut out = Vec::new();
        self.shared.floor = self.shared.floor.max(floor);
        if self.shared.learn_peer(peer, incarnation) {
            self.rules().reconcile_peer(&mut out, peer, incarnation);
        }
        out
    }

    /// After a restart: asks the requester of a vote the journal restored to say (with a
    /// `Sync`) whether it still has that request. The Sync it sends when it learns of our new
    /// incarnation covers only the locks it keeps state for; this covers the others.
    #[must_use = "the actions must be carried out"]
    pub fn resync_restored_vote(&mut self) -> Vec<Action> {
        self.rules().resync_restored_vote()
    }

    /// The caller's clock moved to `now` (any unit, the one of [`Options::lease`]; it never
    /// goes back within a process). A holder renews its lease at half term and leaves the CS
    /// when it runs out; a voter reclaims the vote of a suspected holder whose lease surely
    /// ran out.
    #[must_use = "the actions must be carried out"]
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        self.rules().tick(now)
    }

    /// This node now suspects `peer` of being dead or cut off (`suspected`) or no longer does.
    /// A waiting request moves to a quorum without suspects; a voter reclaims a suspected
    /// requester's vote when that is safe, and skips its queued requests.
    #[must_use = "the actions must be carried out"]
    pub fn set_suspected(&mut self, peer: NodeId, suspected: bool) -> Vec<Action> {
        let mut out = Vec::new();
        let me = self.shared.me;
        if mark_suspected(&mut self.shared.suspected, me, peer, suspected) {
            self.rules().react_to_suspicion(&mut out);
        }
        out
    }
}

impl<'a> NodeRef<'a> {
    /// A look at the lock `l` with the shared state `s`.
    pub(crate) fn new(s: &'a Shared, l: &'a LockState) -> NodeRef<'a> {
        NodeRef { s, l }
    }

    /// The node's id.
    pub fn id(self) -> NodeId {
        self.s.me
    }

    /// The node's incarnation.
    pub fn incarnation(self) -> Incarnation {
        self.s.incarnation
    }

    /// The checker-only switches the node runs with.
    pub fn options(self) -> Options {
        self.s.options
    }

    /// The voters this lock must win, sorted.
    pub fn quorum(self) -> &'a [NodeId] {
        &self.l.quorum
    }

    /// The Lamport clock.
    pub fn clock(self) -> Lamport {
        self.s.clock
    }

    /// The token floor: no entry this node knows of had a larger fencing token.
    pub fn floor(self) -> Token {
        self.s.floor
    }

    /// See [`Node::journal_floor`].
    pub fn journal_floor(self) -> Token {
        self.s.journal_floor()
    }

    /// Where this lock's requester side stands.
    pub fn phase(self) -> Phase {
        self.l.phase
    }

    /// The requester's bookkeeping for this lock's current request.
    pub fn requester(self) -> &'a RequesterView {
        &self.l.req
    }

    /// The voter's bookkeeping for this lock.
    pub fn voter(self) -> &'a VoterView {
        &self.l.voter
    }

    /// See [`Node::is_quiet`].
    pub fn is_quiet(self) -> bool {
        self.l.is_quiet()
    }
}

impl<'a> NodeMut<'a> {
    /// The rules of the lock `l`, with the shared state `s` lent to them.
    pub(crate) fn new(s: &'a mut Shared, l: &'a mut LockState) -> NodeMut<'a> {
        NodeMut { s, l }
    }

    /// Records the time a restored vote was (re)confirmed: now, by the restarted process.
    pub(crate) fn voter_since(&mut self, now: u64) {
        if self.l.voter.lock.is_some() {
            self.l.voter.since = now;
        }
    }

    /// See [`Node::handle`].
    pub(crate) fn handle(&mut self, from: NodeId, msg: Message) -> Vec<Action> {
        // Saturating, like every sum a peer's number can reach (the clock in `send` and
        // `request_cs`, the floor and its reservation): the daemon refuses numbers near the
        // top at its edge (`maekawa::daemon::validate`), and should one get through, a stuck
        // clock or floor is a bug to find, not a crash of the node (tests/fuzz.rs).
        if msg.kind != MsgKind::Release || self.s.options.release_carries_token {
            self.s.floor = self.s.floor.max(msg.token);
        }
        // The clock stays above the floor, so a request's timestamp is above every token its
        // node knows of: what lets a voter confirm it as the token (fast grants).
        self.s.clock = self
            .s
            .clock
            .max(msg.lamport)
            .max(self.s.floor.as_lamport())
            .next();
        let mut out = Vec::new();
        match msg.kind {
            MsgKind::Request => self.on_request(&mut out, from, msg),
            MsgKind::Yield => self.on_yield(&mut out, from, msg),
            MsgKind::Release => self.on_release(&mut out, from, msg),
            MsgKind::Grant => self.on_grant(&mut out, from, msg),
            MsgKind::Failed => self.on_failed(&mut out, from, msg),
            MsgKind::Inquire => self.on_inquire(&mut out, from, msg),
            MsgKind::Sync => self.on_sync(&mut out, from, msg),
            MsgKind::Resync => self.on_resync(&mut out, from, msg),
            MsgKind::Fence => self.on_fence(&mut out, from, msg),
            MsgKind::Fenced => self.on_fenced(&mut out, from, msg),
            MsgKind::Revoked => self.on_revoked(&mut out, from, msg),
            // About the node, not a lock: a Member takes it before any lock sees it.
            MsgKind::Floor | MsgKind::Config => {}
        }
        out
    }

    fn send(&mut self, out: &mut Vec<Action>, to: NodeId, kind: MsgKind, req: RequestId) {
        self.s.clock = self.s.clock.next();
        out.push(Action::Send {
            to,
            msg: Message {
                kind,
                lamport: self.s.clock,
                req,
                holds_grant: false,
                to_inc: Incarnation(0),
                token: self.s.floor,
                echo: 0,
            },
        });
    }

    /// The floor must be durable before anyone relies on it (an entry's token, a voter's
    /// confirmation): once it passes the reservation, the next block is reserved and a record
    /// of it goes to the journal (one fsync per `TOKEN_BLOCK`, not per entry).
    fn reserve_floor(&mut self, out: &mut Vec<Action>) {
        if self.s.floor > self.s.reserved {
            self.s.reserved = self.s.floor.plus(TOKEN_BLOCK - 1);
            out.push(Action::Persist {
                lock: self.l.voter.lock,
                floor: self.s.reserved,
            });
        }
    }

    fn ignore(out: &mut Vec<Action>, from: NodeId, msg: Message, why: &'static str) {
        out.push(Action::Log(LogEvent::Ignored { from, msg, why }));
    }
}

#[cfg(test)]
mod tests;
