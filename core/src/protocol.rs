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

use crate::id::{NodeId, RequestId};
use crate::quorum::QuorumSystem;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// The message kinds of the protocol: Maekawa's six, the two of re-voting after a restart, and
/// the three of leases (DESIGN.md, "Leases and reclaiming votes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MsgKind {
    /// Requester → voter: I want the CS with this request.
    Request,
    /// Voter → requester: you have my vote.
    Grant,
    /// Voter → requester: a request with higher priority holds or awaits my vote.
    Failed,
    /// Voter → requester: a higher-priority request arrived; will you give my vote back?
    Inquire,
    /// Requester → voter: I give your vote back (it has not let me in yet).
    Yield,
    /// Requester → voter: I am done (or no longer want your vote).
    Release,
    /// Requester → voter, on every new link between two incarnations: the request I have now
    /// (`req.ts == 0`: none). The voter reconciles its lock and queue with it (re-voting).
    Sync,
    /// Voter → requester, from a restarted voter whose journal gave it a vote for `req`: answer
    /// with a `Sync` for this lock. Needed because a requester keeps no state for a lock it is
    /// idle on ([`crate::member`]), so it would not otherwise know to send one.
    Resync,
    /// Requester → voter, once it holds every vote (and again to renew a holder's lease): make
    /// my token (`token`) durable and confirm you still hold your vote for `req`. `echo` is the
    /// requester's clock at the send.
    Fence,
    /// Voter → requester: I hold my vote for `req`, my floor (`token`) is at least your token,
    /// and I will not reclaim the vote before a full reclaim period after now. `echo` is the
    /// `Fence`'s.
    Fenced,
    /// Voter → requester: I no longer hold a vote for `req` (it was reclaimed from a suspected
    /// requester); do not count it. Ask again if you still want it.
    Revoked,
}

impl MsgKind {
    /// All kinds, in a fixed order (used for per-kind counters).
    pub const ALL: [MsgKind; 11] = [
        MsgKind::Request,
        MsgKind::Grant,
        MsgKind::Failed,
        MsgKind::Inquire,
        MsgKind::Yield,
        MsgKind::Release,
        MsgKind::Sync,
        MsgKind::Resync,
        MsgKind::Fence,
        MsgKind::Fenced,
        MsgKind::Revoked,
    ];

    /// Position in [`MsgKind::ALL`], for array-indexed counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// True for the kinds a requester sends about its own request (`Request`, `Yield`,
    /// `Release`, `Sync`, `Fence`): their `req.node` is the sender. False for the kinds a voter
    /// sends to the requester of `req` (`Grant`, `Failed`, `Inquire`, `Resync`, `Fenced`,
    /// `Revoked`): their `req.node` is the receiver. No rule of the protocol sends anything
    /// else, so the daemon refuses a message from the network that breaks this
    /// (`maekawa::daemon::validate`, whose tests check that every message of random cluster
    /// schedules keeps it).
    pub fn from_requester(self) -> bool {
        match self {
            MsgKind::Request
            | MsgKind::Yield
            | MsgKind::Release
            | MsgKind::Sync
            | MsgKind::Fence => true,
            MsgKind::Grant
            | MsgKind::Failed
            | MsgKind::Inquire
            | MsgKind::Resync
            | MsgKind::Fenced
            | MsgKind::Revoked => false,
        }
    }

    /// The stable name used in logs (`"Request"`, `"Grant"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            MsgKind::Request => "Request",
            MsgKind::Grant => "Grant",
            MsgKind::Failed => "Failed",
            MsgKind::Inquire => "Inquire",
            MsgKind::Yield => "Yield",
            MsgKind::Release => "Release",
            MsgKind::Sync => "Sync",
            MsgKind::Resync => "Resync",
            MsgKind::Fence => "Fence",
            MsgKind::Fenced => "Fenced",
            MsgKind::Revoked => "Revoked",
        }
    }
}

impl fmt::Display for MsgKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One protocol message: its kind, the sender's Lamport clock, and the request it is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Message {
    /// What the message says.
    pub kind: MsgKind,
    /// The sender's Lamport clock at the send.
    pub lamport: u64,
    /// The request this message is about.
    pub req: RequestId,
    /// In a `Sync` only: the sender holds the receiver's grant for `req`.
    pub holds_grant: bool,
    /// In a `Sync` only: the receiver's incarnation it answers. A Sync meant for an earlier
    /// process of the receiver is stale (a fresh one follows) and is ignored.
    pub to_inc: u64,
    /// The sender's token floor: no entry the sender knows of had a larger fencing token. The
    /// receiver raises its own floor to it (DESIGN.md, "Fencing tokens").
    pub token: u64,
    /// In a `Fence` the sender's clock at the send; in a `Fenced` the `Fence`'s, echoed: what
    /// the requester times its lease from.
    pub echo: u64,
}

impl Message {
    /// For a `Sync`: the sender's current request, if it has one.
    pub fn synced_request(&self) -> Option<RequestId> {
        (self.req.ts != 0).then_some(self.req)
    }
}

/// What the caller must do, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make the voter's lock and the token floor durable (write and fsync) before carrying out
    /// any later action: a GRANT that follows must never leave before its lock is on disk, and
    /// an entry's token must never be used before a floor at least as large is.
    Persist {
        /// The lock to record (`None`: unlocked).
        lock: Option<RequestId>,
        /// The token floor to record (it only grows): no token this node has used or knows
        /// of is larger; it includes the block of tokens reserved ([`TOKEN_BLOCK`]).
        floor: u64,
    },
    /// Deliver `msg` to `to` (possibly this node itself).
    Send {
        /// Destination node.
        to: NodeId,
        /// The message.
        msg: Message,
    },
    /// The node now holds every vote of its quorum and is in the critical section.
    EnterCs {
        /// The request that won.
        req: RequestId,
        /// The voters whose grants let it in (its whole quorum), sorted.
        votes: Vec<NodeId>,
        /// The fencing token of this entry: larger than every earlier entry's of this lock.
        token: u64,
    },
    /// The holder's lease ran out by its own clock before it left: it is out of the CS now
    /// (the RELEASEs that follow are sent as after [`Node::exit_cs`]). The caller must stop
    /// using the CS, as after an exit, and tell whoever held it through this node.
    LeaseExpired {
        /// The request that held the CS.
        req: RequestId,
        /// Its fencing token.
        token: u64,
        /// When the lease ran out, by the caller's clock (at or before now).
        ended_at: u64,
    },
    /// A decision worth a log line that sends nothing.
    Log(LogEvent),
}

/// Decisions the core makes silently; the driver logs them so a reader can follow the story.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    /// A message that no longer matches the state was dropped.
    Ignored {
        /// Who sent it.
        from: NodeId,
        /// The message.
        msg: Message,
        /// Why it was dropped.
        why: &'static str,
    },
    /// Re-voting after a restart: the voter changed its lock or queue to match what a
    /// requester (or a dead incarnation of it) really has.
    Revote {
        /// `freed` (a vote given back), `dropped` (a queued request forgotten), `requeued` (a
        /// lost request taken again), `regranted` (a grant sent again), or `reclaimed` (a vote
        /// taken back from a suspected requester, DESIGN.md "Leases and reclaiming votes").
        what: &'static str,
        /// The request concerned.
        req: RequestId,
        /// Why, in words.
        why: &'static str,
    },
    /// The requester moved its waiting request to another quorum of the system, because a
    /// voter of the old one is suspected: RELEASE to the voters left, REQUEST to those joined.
    QuorumSwitch {
        /// The request (its priority is kept).
        req: RequestId,
        /// The quorum it used.
        from: Vec<NodeId>,
        /// The quorum it uses now.
        to: Vec<NodeId>,
    },
    /// An INQUIRE is held back: this node has no reason yet to think it will lose.
    InquiryDeferred {
        /// The voter that asked.
        voter: NodeId,
        /// The request it asked about.
        req: RequestId,
    },
}

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

    /// The node wants the CS: make a new request and ask every voter of the quorum.
    #[must_use = "the actions must be carried out"]
    pub fn request_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        if let Phase::Wanting(req) | Phase::InCs(req) = self.phase {
            return Err(ProtocolError::AlreadyRequesting { node: self.me, req });
        }
        self.clock = self.clock.saturating_add(1);
        let req = RequestId {
            ts: self.clock,
            node: self.me,
            inc: self.incarnation,
        };
        self.phase = Phase::Wanting(req);
        self.req = RequesterView::default();
        self.quorum = self.pick_quorum(&BTreeSet::new());
        let mut out = Vec::with_capacity(self.quorum.len());
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(&mut out, to, MsgKind::Request, req);
        }
        Ok(out)
    }

    /// The node leaves the CS: give every vote back.
    #[must_use = "the actions must be carried out"]
    pub fn exit_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::InCs(req) = self.phase else {
            return Err(ProtocolError::NotInCs { node: self.me });
        };
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.quorum.len());
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(&mut out, to, MsgKind::Release, req);
        }
        Ok(out)
    }

    /// The node withdraws a request that still waits for votes: every voter of its quorum gets a
    /// RELEASE, which frees the vote it gave or drops the queued request (links are FIFO, so the
    /// REQUEST is there first); a GRANT still on its way is handed back when it arrives (the
    /// GRANT rule for a request that is not current). No entry happened, so no token is used.
    #[must_use = "the actions must be carried out"]
    pub fn cancel_cs(&mut self) -> Result<Vec<Action>, ProtocolError> {
        let Phase::Wanting(req) = self.phase else {
            return Err(ProtocolError::NotWaiting { node: self.me });
        };
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        let mut out = Vec::with_capacity(self.quorum.len());
        if self.options.cancel_releases {
            for i in 0..self.quorum.len() {
                let to = self.quorum[i];
                self.send(&mut out, to, MsgKind::Release, req);
            }
        }
        Ok(out)
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

    /// A link to `peer` came up and `peer` says it is incarnation `incarnation` (PROTOCOL.md
    /// §3). If that is news, reconcile: as a voter, forget what `peer`'s older incarnations
    /// asked for (freeing a vote they held); as a requester, tell `peer` (if it votes for us)
    /// which request we have now, since a restarted voter lost its queue.
    ///
    /// `floor` is the peer's token floor, which its journal kept: raising ours to it before a
    /// vote the peer's dead incarnation held is freed keeps the next holder's token above the
    /// token of an entry that dead incarnation made and never released.
    #[must_use = "the actions must be carried out"]
    pub fn peer_incarnation(&mut self, peer: NodeId, incarnation: u64, floor: u64) -> Vec<Action> {
        let mut out = Vec::new();
        self.floor = self.floor.max(floor);
        if peer == self.me || self.peers.get(&peer).is_some_and(|&k| k >= incarnation) {
            return out;
        }
        Arc::make_mut(&mut self.peers).insert(peer, incarnation);
        let dead = |r: &RequestId| r.node == peer && r.inc < incarnation;
        let dropped: Vec<RequestId> = self
            .voter
            .queue
            .iter()
            .filter(|r| dead(r))
            .copied()
            .collect();
        for r in dropped {
            self.voter.queue.remove(&r);
            self.voter.told_failed.remove(&r);
            out.push(Action::Log(LogEvent::Revote {
                what: "dropped",
                req: r,
                why: "queued request of a dead incarnation",
            }));
        }
        if let Some(l) = self.voter.lock.filter(|l| dead(l)) {
            out.push(Action::Log(LogEvent::Revote {
                what: "freed",
                req: l,
                why: "vote held by a dead incarnation",
            }));
            self.voter.lock = None;
            self.grant_next(&mut out);
        }
        if self.quorum.contains(&peer) {
            // The peer's voter side may have restarted: what it knew of us is gone.
            self.req.failed.remove(&peer);
            self.req.deferred.remove(&peer);
            self.send_sync(&mut out, peer, incarnation);
            // A Fence to its dead process may be lost: ask the new one (after the Sync, so it
            // knows the request again).
            if let (Some(echo), Phase::Wanting(r) | Phase::InCs(r)) = (self.req.fencing, self.phase)
            {
                self.send(&mut out, peer, MsgKind::Fence, r);
                if let Some(Action::Send { msg, .. }) = out.last_mut() {
                    msg.echo = echo;
                }
            }
        }
        out
    }

    /// Tells voter `peer` (incarnation `to_inc`) which request this node has now.
    fn send_sync(&mut self, out: &mut Vec<Action>, peer: NodeId, to_inc: u64) {
        let req = match self.phase {
            Phase::Wanting(r) | Phase::InCs(r) if self.quorum.contains(&peer) => r,
            _ => RequestId {
                ts: 0,
                node: self.me,
                inc: self.incarnation,
            },
        };
        self.send(out, peer, MsgKind::Sync, req);
        if let Some(Action::Send { msg, .. }) = out.last_mut() {
            msg.holds_grant = self.req.granted.contains(&peer);
            msg.to_inc = to_inc;
        }
    }

    /// After a restart: asks the requester of a vote the journal restored to say (with a
    /// `Sync`) whether it still has that request. The Sync it sends when it learns of our new
    /// incarnation covers only the locks it keeps state for; this covers the others.
    #[must_use = "the actions must be carried out"]
    pub fn resync_restored_vote(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(l) = self
            .voter
            .lock
            .filter(|l| l.node != self.me && !self.voter.grant_sent)
        {
            self.send(&mut out, l.node, MsgKind::Resync, l);
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

    // ---- time and suspicion --------------------------------------------------------------

    /// The caller's clock moved to `now` (any unit, the one of [`Options::lease`]; it never
    /// goes back within a process). A holder renews its lease at half term and leaves the CS
    /// when it runs out; a voter reclaims the vote of a suspected holder whose lease surely
    /// ran out.
    #[must_use = "the actions must be carried out"]
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        self.now = self.now.max(now);
        let mut out = Vec::new();
        if !self.options.leases {
            return out;
        }
        if let (Phase::InCs(r), Some(from)) = (self.phase, self.req.lease_from) {
            if self.now >= from.saturating_add(self.options.lease) {
                self.expire(&mut out);
            } else if self.req.fencing.is_none()
                && self.now >= from.saturating_add(self.options.lease / 2)
            {
                self.send_fence(&mut out, r);
            }
        }
        self.reclaim_if_due(&mut out);
        out
    }

    /// True when [`Node::tick`] at `now` would do something: renew or end a lease, or reclaim
    /// a vote. Lets a model skip timer steps that change nothing.
    pub fn wants_tick(&self, now: u64) -> bool {
        if !self.options.leases {
            return false;
        }
        if let (Phase::InCs(_), Some(from)) = (self.phase, self.req.lease_from) {
            if now >= from.saturating_add(self.options.lease)
                || (self.req.fencing.is_none()
                    && now >= from.saturating_add(self.options.lease / 2))
            {
                return true;
            }
        }
        self.voter.lock.is_some_and(|l| {
            l.node != self.me
                && self.suspected.contains(&l.node)
                && (!self.voter.fenced
                    || !self.options.reclaim_waits
                    || now >= self.voter.since.saturating_add(self.options.reclaim_after))
        })
    }

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
    fn pick_quorum(&self, also: &BTreeSet<NodeId>) -> Arc<[NodeId]> {
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

    /// Every vote of the quorum is held: take the next token and, with leases, confirm it
    /// with the voters before entering; without, enter now.
    fn complete_if_granted(&mut self, out: &mut Vec<Action>, r: RequestId) {
        if self.req.granted.len() != self.quorum.len() || self.req.fencing.is_some() {
            return;
        }
        // Every grant raised the floor to its voter's. The token must outlive this process: a
        // reservation that covers it is on disk before anyone can use it (one fsync per
        // TOKEN_BLOCK tokens, not per entry).
        self.floor = self.floor.saturating_add(1);
        if self.floor > self.reserved {
            self.reserved = self.floor.saturating_add(TOKEN_BLOCK - 1);
            out.push(Action::Persist {
                lock: self.voter.lock,
                floor: self.reserved,
            });
        }
        self.req.token = self.floor;
        if self.options.leases {
            self.send_fence(out, r);
        } else {
            self.enter(out, r, None);
        }
    }

    fn enter(&mut self, out: &mut Vec<Action>, r: RequestId, lease_from: Option<u64>) {
        self.phase = Phase::InCs(r);
        self.req.deferred.clear();
        self.req.fencing = None;
        self.req.fenced.clear();
        self.req.lease_from = lease_from;
        out.push(Action::EnterCs {
            req: r,
            votes: self.req.granted.iter().copied().collect(),
            token: self.req.token,
        });
    }

    /// Starts a round of `Fence`s: the entry's confirmation, or a holder's renewal.
    fn send_fence(&mut self, out: &mut Vec<Action>, r: RequestId) {
        self.req.fencing = Some(self.now);
        self.req.fenced.clear();
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(out, to, MsgKind::Fence, r);
            if let Some(Action::Send { msg, .. }) = out.last_mut() {
                msg.echo = self.now;
            }
        }
    }

    /// The holder's lease ran out: it leaves as by [`Node::exit_cs`], reported as such.
    fn expire(&mut self, out: &mut Vec<Action>) {
        let Phase::InCs(r) = self.phase else {
            return;
        };
        out.push(Action::LeaseExpired {
            req: r,
            token: self.req.token,
            ended_at: self
                .req
                .lease_from
                .map_or(self.now, |from| from.saturating_add(self.options.lease))
                .min(self.now),
        });
        self.phase = Phase::Idle;
        self.req = RequesterView::default();
        for i in 0..self.quorum.len() {
            let to = self.quorum[i];
            self.send(out, to, MsgKind::Release, r);
        }
    }

    /// Voter: reclaims the vote of a suspected requester when that is safe. A vote never
    /// confirmed by a `Fence` can go at once: its holder cannot enter (or renew) without our
    /// `Fenced`. A confirmed one only a full reclaim period after the last confirmation, when
    /// the holder's lease has surely run out by its own clock.
    fn reclaim_if_due(&mut self, out: &mut Vec<Action>) {
        if !self.options.leases {
            return;
        }
        let Some(l) = self.voter.lock else {
            return;
        };
        if l.node == self.me || !self.suspected.contains(&l.node) {
            return;
        }
        let due = !self.voter.fenced
            || !self.options.reclaim_waits
            || self.now >= self.voter.since.saturating_add(self.options.reclaim_after);
        if !due {
            return;
        }
        out.push(Action::Log(LogEvent::Revote {
            what: "reclaimed",
            req: l,
            why: if self.voter.fenced {
                "the suspected holder's lease ran out"
            } else {
                "vote of a suspected requester, never confirmed"
            },
        }));
        self.send(out, l.node, MsgKind::Revoked, l);
        self.voter.lock = None;
        self.grant_next(out);
    }

    fn on_fence(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.is_dead(&r) {
            return Self::ignore(out, from, msg, "fence of a dead incarnation");
        }
        if self.voter.lock != Some(r) {
            self.send(out, r.node, MsgKind::Revoked, r);
            return;
        }
        // Our floor already took the holder's token (`handle`); it must be durable before we
        // confirm.
        if self.floor > self.reserved {
            self.reserved = self.floor.saturating_add(TOKEN_BLOCK - 1);
            out.push(Action::Persist {
                lock: self.voter.lock,
                floor: self.reserved,
            });
        }
        self.voter.fenced = true;
        self.voter.since = self.now;
        self.send(out, r.node, MsgKind::Fenced, r);
        if let Some(Action::Send { msg: m, .. }) = out.last_mut() {
            m.echo = msg.echo;
        }
    }

    fn on_fenced(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        let current = matches!(self.phase, Phase::Wanting(c) | Phase::InCs(c) if c == r);
        if !current
            || self.req.fencing != Some(msg.echo)
            || !self.quorum.contains(&from)
            || !self.req.granted.contains(&from)
            || msg.token < self.req.token
        {
            return Self::ignore(out, from, msg, "confirmation of another round");
        }
        self.req.fenced.insert(from);
        if self.req.fenced.len() < self.quorum.len() {
            return;
        }
        if self.now >= msg.echo.saturating_add(self.options.lease) {
            // The round took longer than a lease: a voter may have reclaimed since it
            // confirmed. Confirm again (a holder past its lease is out already, see `tick`).
            if let Phase::Wanting(_) = self.phase {
                self.send_fence(out, r);
            }
            return;
        }
        match self.phase {
            Phase::Wanting(_) => self.enter(out, r, Some(msg.echo)),
            _ => {
                self.req.fencing = None;
                self.req.lease_from = Some(msg.echo);
            }
        }
    }

    fn on_revoked(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if !self.quorum.contains(&from) || self.req.left.contains(&from) {
            return Self::ignore(out, from, msg, "revoked by a voter not in the quorum");
        }
        match self.phase {
            Phase::InCs(c) if c == r => self.expire(out),
            Phase::Wanting(c) if c == r => {
                // Whether its vote was counted or given back (a YIELD crossing the reclaim),
                // the voter forgot the request.
                self.req.granted.remove(&from);
                self.req.yielded.remove(&from);
                self.req.deferred.remove(&from);
                self.req.fencing = None;
                self.req.fenced.clear();
                // Ask again: the voter forgot the request. The lost vote counts as a FAILED.
                self.send(out, from, MsgKind::Request, r);
                self.req.failed.insert(from);
                self.yield_deferred(out, r);
            }
            _ => Self::ignore(out, from, msg, "revoked a vote not counted"),
        }
    }

    // ---- voter side -------------------------------------------------------------------------

    /// A queued request the voter may grant: not of a suspected node (with leases).
    fn eligible(&self, r: &RequestId) -> bool {
        r.node == self.me || !self.options.leases || !self.suspected.contains(&r.node)
    }

    fn is_dead(&self, r: &RequestId) -> bool {
        self.peers.get(&r.node).is_some_and(|&k| r.inc < k)
            || (r.node == self.me && r.inc < self.incarnation)
    }

    fn on_request(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.is_dead(&msg.req) {
            return Self::ignore(out, from, msg, "request of a dead incarnation");
        }
        self.take_request(out, from, msg);
    }

    /// The REQUEST rule proper (also used to re-queue a request a restart lost).
    fn take_request(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        let Some(lock) = self.voter.lock else {
            if r.node != self.me && self.suspected.contains(&r.node) && self.options.leases {
                // It may be dead: it waits, and gets the vote once no longer suspected.
                self.voter.queue.insert(r);
                return;
            }
            self.voter.lock = Some(r);
            self.voter.inquired = false;
            self.voter.grant_sent = true;
            self.voter.fenced = false;
            self.voter.since = self.now;
            out.push(Action::Persist {
                lock: Some(r),
                floor: self.journal_floor(),
            });
            self.send(out, r.node, MsgKind::Grant, r);
            return;
        };
        if lock == r || self.voter.queue.contains(&r) {
            return Self::ignore(out, from, msg, "duplicate request");
        }
        self.voter.queue.insert(r);
        if !self.eligible(&r) {
            // Its node is suspected: it waits silently, and is answered if the suspicion is
            // lifted (`react_to_suspicion`).
            return;
        }
        let beaten = lock.beats(&r)
            || self
                .voter
                .queue
                .iter()
                .any(|q| self.eligible(q) && q.beats(&r));
        if beaten {
            self.voter.told_failed.insert(r);
            self.send(out, r.node, MsgKind::Failed, r);
        } else if !self.voter.inquired {
            self.voter.inquired = true;
            self.send(out, lock.node, MsgKind::Inquire, lock);
        }
    }

    fn on_yield(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.voter.lock != Some(r) {
            return Self::ignore(
                out,
                from,
                msg,
                "yield for a request that does not hold the vote",
            );
        }
        self.voter.queue.insert(r);
        // A requester that yielded keeps us in its `yielded` set until we grant it again, which
        // makes it yield to any INQUIRE exactly as a FAILED would: it needs no FAILED from us.
        self.voter.told_failed.insert(r);
        self.grant_next(out);
    }

    fn on_release(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.voter.lock == Some(r) {
            self.voter.lock = None;
            self.grant_next(out);
        } else if self.voter.queue.remove(&r) {
            self.voter.told_failed.remove(&r);
        } else {
            Self::ignore(
                out,
                from,
                msg,
                "release for a request that is neither locked nor queued",
            );
        }
    }

    /// Gives the vote to the head of the queue (or unlocks), then applies Sanders' rule. The
    /// new lock is persisted before the GRANT leaves.
    fn grant_next(&mut self, out: &mut Vec<Action>) {
        self.voter.inquired = false;
        self.voter.fenced = false;
        self.voter.since = 0;
        // A suspected requester's request waits (it may be dead); it is granted once the
        // suspicion is lifted.
        let head = self.voter.queue.iter().find(|q| self.eligible(q)).copied();
        let Some(head) = head else {
            self.voter.lock = None;
            self.voter.grant_sent = false;
            out.push(Action::Persist {
                lock: None,
                floor: self.journal_floor(),
            });
            return;
        };
        self.voter.queue.remove(&head);
        self.voter.told_failed.remove(&head);
        self.voter.lock = Some(head);
        self.voter.grant_sent = true;
        self.voter.since = self.now;
        out.push(Action::Persist {
            lock: Some(head),
            floor: self.journal_floor(),
        });
        self.send(out, head.node, MsgKind::Grant, head);
        if self.options.lock_change_failed {
            let untold: Vec<RequestId> = self
                .voter
                .queue
                .iter()
                .filter(|q| !self.voter.told_failed.contains(q))
                .copied()
                .collect();
            for q in untold {
                self.voter.told_failed.insert(q);
                self.send(out, q.node, MsgKind::Failed, q);
            }
        }
    }

    /// Reconciliation, voter side: make lock and queue agree with what `from` really has.
    fn on_sync(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.is_dead(&msg.req) {
            return Self::ignore(out, from, msg, "sync from a dead incarnation");
        }
        if msg.to_inc != self.incarnation {
            return Self::ignore(out, from, msg, "sync meant for an earlier incarnation");
        }
        let current = msg.synced_request();
        let stale: Vec<RequestId> = self
            .voter
            .queue
            .iter()
            .filter(|r| r.node == from && Some(**r) != current)
            .copied()
            .collect();
        for r in stale {
            self.voter.queue.remove(&r);
            self.voter.told_failed.remove(&r);
            out.push(Action::Log(LogEvent::Revote {
                what: "dropped",
                req: r,
                why: "queued request its requester no longer has",
            }));
        }
        if let Some(l) = self
            .voter
            .lock
            .filter(|l| l.node == from && Some(*l) != current)
        {
            out.push(Action::Log(LogEvent::Revote {
                what: "freed",
                req: l,
                why: "vote held by a request its requester no longer has",
            }));
            self.voter.lock = None;
            self.grant_next(out);
        }
        let Some(r) = current else { return };
        if self.voter.lock == Some(r) {
            // Grant again only a lock restored from the journal whose GRANT the requester
            // does not have: a second GRANT of this process could cross a YIELD and leave the
            // requester counting a vote that has moved on.
            if !msg.holds_grant && !self.voter.grant_sent {
                out.push(Action::Log(LogEvent::Revote {
                    what: "regranted",
                    req: r,
                    why: "the grant was lost in a restart",
                }));
                self.voter.grant_sent = true;
                self.send(out, r.node, MsgKind::Grant, r);
                // An INQUIRE sent before this GRANT was ignored (the grant was not held):
                // ask again if a higher-priority request waits.
                self.voter.inquired = false;
                if self.voter.queue.first().is_some_and(|q| q.beats(&r)) {
                    self.voter.inquired = true;
                    self.send(out, r.node, MsgKind::Inquire, r);
                }
            }
        } else if !self.voter.queue.contains(&r) {
            out.push(Action::Log(LogEvent::Revote {
                what: "requeued",
                req: r,
                why: "request lost in a restart",
            }));
            self.take_request(
                out,
                from,
                Message {
                    kind: MsgKind::Request,
                    ..msg
                },
            );
        }
    }

    // ---- requester side ---------------------------------------------------------------------

    fn on_grant(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        match self.phase {
            Phase::Wanting(cur) if cur == r => {
                if self.req.left.contains(&from) {
                    // Our RELEASE follows it to that voter: nothing to hand back.
                    return Self::ignore(out, from, msg, "grant from a voter this request left");
                }
                if !self.quorum.contains(&from) || self.req.granted.contains(&from) {
                    return Self::ignore(out, from, msg, "grant from a voter already counted");
                }
                self.req.granted.insert(from);
                self.req.failed.remove(&from);
                self.req.yielded.remove(&from);
                self.complete_if_granted(out, r);
            }
            Phase::InCs(cur) if cur == r => {
                Self::ignore(out, from, msg, "grant while already in the CS")
            }
            _ => {
                // Never keep a vote we will not use: hand it straight back.
                self.send(out, from, MsgKind::Release, r);
            }
        }
    }

    fn on_failed(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if self.phase != Phase::Wanting(msg.req) {
            return Self::ignore(out, from, msg, "failed for a request that is not waiting");
        }
        if self.req.fencing.is_some() {
            // Every vote is held: a vote we lost is answered by a Revoked.
            return Self::ignore(out, from, msg, "failed while confirming the entry");
        }
        if !self.quorum.contains(&from) {
            return Self::ignore(out, from, msg, "failed from a voter this request left");
        }
        self.req.failed.insert(from);
        self.yield_deferred(out, msg.req);
    }

    /// Gives back every vote whose INQUIRE was held back: this request now knows it lost.
    fn yield_deferred(&mut self, out: &mut Vec<Action>, r: RequestId) {
        let deferred = std::mem::take(&mut self.req.deferred);
        for voter in deferred {
            if self.req.granted.remove(&voter) {
                self.req.yielded.insert(voter);
                self.send(out, voter, MsgKind::Yield, r);
            }
        }
    }

    fn on_resync(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        if msg.req.node != self.me {
            return Self::ignore(out, from, msg, "resync about another node's request");
        }
        let to_inc = self.peers.get(&from).copied().unwrap_or(0);
        self.send_sync(out, from, to_inc);
    }

    fn on_inquire(&mut self, out: &mut Vec<Action>, from: NodeId, msg: Message) {
        let r = msg.req;
        if self.phase != Phase::Wanting(r) {
            return Self::ignore(out, from, msg, "inquire for a request that is not waiting");
        }
        if !self.req.granted.contains(&from) {
            return Self::ignore(
                out,
                from,
                msg,
                "inquire from a voter whose grant is not held",
            );
        }
        let confirming = self.req.fencing.is_some();
        if !confirming && (!self.req.failed.is_empty() || !self.req.yielded.is_empty()) {
            self.req.granted.remove(&from);
            self.req.yielded.insert(from);
            self.send(out, from, MsgKind::Yield, r);
        } else {
            self.req.deferred.insert(from);
            out.push(Action::Log(LogEvent::InquiryDeferred {
                voter: from,
                req: r,
            }));
        }
    }
}

#[cfg(test)]
#[path = "protocol/tests.rs"]
mod tests;
