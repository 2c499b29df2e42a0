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

mod leases;
mod messages;
mod requester;
mod revote;
mod suspicion;
mod voter;

pub use messages::{Action, LogEvent, Message, MsgKind};
pub(crate) use suspicion::mark_suspected;

use crate::id::{NodeId, RequestId};
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
pub const TOKEN_BLOCK: u64 = 1000;

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
    pub token: u64,
    /// The clock at the send of the `Fence` round in progress, if one is.
    pub fencing: Option<u64>,
    /// Voters that confirmed the round in progress.
    pub fenced: BTreeSet<NodeId>,
    /// When in the CS: the clock at the send of the last round every voter confirmed. The
    /// lease runs until `lease_from + L`.
    pub lease_from: Option<u64>,
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

/// One node's protocol state: requester and voter in one.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Node {
    me: NodeId,
    incarnation: u64,
    // Shared (cheap to clone): a member keeps one node per lock in use, and the explorer
    // copies states by the million.
    /// The quorum of the current request (or the one the next request starts with).
    quorum: Arc<[NodeId]>,
    /// Every quorum this node may use.
    system: Arc<QuorumSystem>,
    /// Peers this node suspects of being dead or cut off.
    pub(crate) suspected: Arc<BTreeSet<NodeId>>,
    /// The caller's clock, as of the last input.
    pub(crate) now: u64,
    /// The newest incarnation seen of each peer.
    pub(crate) peers: Arc<BTreeMap<NodeId, u64>>,
    pub(crate) clock: u64,
    /// No entry this node knows of (its own included) had a larger fencing token.
    pub(crate) floor: u64,
    /// No token larger than this may be used before a new reservation is on disk.
    pub(crate) reserved: u64,
    phase: Phase,
    req: RequesterView,
    voter: VoterView,
    options: Options,
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
        Node::with_shared(me, system, options)
    }

    /// A node that may use any quorum of `system`, starting with its own.
    pub fn with_system(me: NodeId, system: Arc<QuorumSystem>, options: Options) -> Node {
        Node::with_shared(me, system, options)
    }

    /// As [`Node::with_system`], the system already shared.
    pub(crate) fn with_shared(me: NodeId, system: Arc<QuorumSystem>, options: Options) -> Node {
        Node {
            me,
            incarnation: 1,
            quorum: system.quorum(me).into(),
            system,
            suspected: Arc::default(),
            now: 0,
            peers: Arc::default(),
            clock: 0,
            floor: 0,
            reserved: 0,
            phase: Phase::Idle,
            req: RequesterView::default(),
            voter: VoterView::default(),
            options,
        }
    }

    /// A node after a (re)start as incarnation `incarnation`, with the lock and token floor its
    /// journal kept. Its requester side starts idle: a restarted node has lost its CS and its
    /// request. A lock held by this node's own earlier incarnation is freed at once (that
    /// request is dead).
    #[must_use = "the actions must be carried out"]
    pub fn restore(
        me: NodeId,
        quorum: &[NodeId],
        incarnation: u64,
        lock: Option<RequestId>,
        floor: u64,
        options: Options,
    ) -> (Node, Vec<Action>) {
        let system = Arc::new(QuorumSystem::explicit(BTreeMap::from([(
            me,
            quorum.to_vec(),
        )])));
        Node::restore_in(me, system, incarnation, lock, floor, options)
    }

    /// As [`Node::restore`], for a node that may use any quorum of `system`. Its clock starts
    /// at 0 (the caller's clock restarts with the process): a restored vote is reclaimed no
    /// earlier than a full reclaim period from now, whatever the dead process confirmed.
    #[must_use = "the actions must be carried out"]
    pub(crate) fn restore_in(
        me: NodeId,
        system: Arc<QuorumSystem>,
        incarnation: u64,
        lock: Option<RequestId>,
        floor: u64,
        options: Options,
    ) -> (Node, Vec<Action>) {
        let mut node = Node::with_shared(me, system, options);
        node.voter.fenced = lock.is_some() && options.leases;
        node.incarnation = incarnation;
        node.floor = floor;
        node.reserved = floor;
        node.voter.lock = lock;
        let mut out = Vec::new();
        if let Some(l) = lock.filter(|l| l.node == me && l.inc < incarnation) {
            out.push(Action::Log(LogEvent::Revote {
                what: "freed",
                req: l,
                why: "held by this node's own previous incarnation",
            }));
            node.grant_next(&mut out);
        }
        (node, out)
    }

    pub(crate) fn voter_since(&mut self, now: u64) {
        if self.voter.lock.is_some() {
            self.voter.since = now;
        }
    }

    /// Records a peer's incarnation learned out of band (the checkers' initial state), without
    /// the reconciliation [`Node::peer_incarnation`] performs.
    pub fn assume_peer(&mut self, peer: NodeId, incarnation: u64) {
        Arc::make_mut(&mut self.peers).insert(peer, incarnation);
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.me
    }

    /// This node's incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    pub(crate) fn set_incarnation(&mut self, incarnation: u64) {
        self.incarnation = incarnation;
    }

    /// The checker-only switches this node runs with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The voters this node must win, sorted.
    pub fn quorum(&self) -> &[NodeId] {
        &self.quorum
    }

    /// The Lamport clock.
    pub fn clock(&self) -> u64 {
        self.clock
    }

    /// The token floor: no entry this node knows of had a larger fencing token.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// What the journal records as the floor: the floor or the reservation, whichever is
    /// larger, so a restarted node never issues a token it may have used.
    pub fn journal_floor(&self) -> u64 {
        self.floor.max(self.reserved)
    }

    /// Where the requester side stands.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The requester's bookkeeping for the current request.
    pub fn requester(&self) -> &RequesterView {
        &self.req
    }

    /// The voter's bookkeeping.
    pub fn voter(&self) -> &VoterView {
        &self.voter
    }

    /// A message arrived from `from` (possibly this node itself).
    ///
    /// Contract with the transport: nothing sent by a dead incarnation of `from` is handed in
    /// after [`Node::peer_incarnation`] announced its successor (messages carry the requester's
    /// incarnation in the request id, not the sender's).
    #[must_use = "the actions must be carried out"]
    pub fn handle(&mut self, from: NodeId, msg: Message) -> Vec<Action> {
        // Saturating, like every sum a peer's number can reach (the clock in `send` and
        // `request_cs`, the floor and its reservation): the daemon refuses numbers near the
        // top at its edge (`maekawa::daemon::validate`), and should one get through, a stuck
        // clock or floor is a bug to find, not a crash of the node (tests/fuzz.rs).
        self.clock = self.clock.max(msg.lamport).saturating_add(1);
        if msg.kind != MsgKind::Release || self.options.release_carries_token {
            self.floor = self.floor.max(msg.token);
        }
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
        }
        out
    }

    /// True when this lock's state is the same as a fresh node's: idle, unlocked, no queue.
    /// Such a state can be dropped and made again when needed.
    pub fn is_quiet(&self) -> bool {
        self.phase == Phase::Idle
            && self.voter.lock.is_none()
            && self.voter.queue.is_empty()
            && self.voter.told_failed.is_empty()
            && self.req == RequesterView::default()
    }

    fn send(&mut self, out: &mut Vec<Action>, to: NodeId, kind: MsgKind, req: RequestId) {
        self.clock = self.clock.saturating_add(1);
        out.push(Action::Send {
            to,
            msg: Message {
                kind,
                lamport: self.clock,
                req,
                holds_grant: false,
                to_inc: 0,
                token: self.floor,
                echo: 0,
            },
        });
    }

    fn ignore(out: &mut Vec<Action>, from: NodeId, msg: Message, why: &'static str) {
        out.push(Action::Log(LogEvent::Ignored { from, msg, why }));
    }
}

#[cfg(test)]
mod tests;
