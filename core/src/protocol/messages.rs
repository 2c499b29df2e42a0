//! What goes in and out of a [`Node`](super::Node): the message kinds, a message, the actions the
//! caller carries out, and the decisions worth a log line. Pure data: no rule of the protocol
//! lives here (the rules are in the sibling modules), and nothing here knows the wire format.

use crate::id::{Incarnation, Lamport, NodeId, RequestId, Token};
use serde::{Deserialize, Serialize};
use std::fmt;

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
    /// Node → node, about no request (`req.ts == 0`, `req.node` the sender): my token floor
    /// (`token`, my journal's) covers every token I ever confirmed. Sent to each new
    /// incarnation of a peer, and to every peer once a node that lost its journal has learned
    /// its floor again: what such a node waits for before it grants (DESIGN.md, "A lost
    /// disk"). Not about any lock.
    Floor,
    /// Node → node, about no request (`req.ts == 0`, `req.node` the sender, `req.epoch` the
    /// sender's configuration epoch): my configuration is newer than yours, adopt it (the
    /// daemon attaches the configuration itself). Sent to every node of the old and the new
    /// configuration when a node adopts a new one, to a peer whose Hello or request shows an
    /// older epoch, and in answer to an older `Config`. Not about any lock.
    Config,
}

impl MsgKind {
    /// All kinds, in a fixed order (used for per-kind counters).
    pub const ALL: [MsgKind; 13] = [
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
        MsgKind::Floor,
        MsgKind::Config,
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
            | MsgKind::Fence
            | MsgKind::Floor
            | MsgKind::Config => true,
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
            MsgKind::Floor => "Floor",
            MsgKind::Config => "Config",
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
    pub lamport: Lamport,
    /// The request this message is about.
    pub req: RequestId,
    /// In a `Sync` only: the sender holds the receiver's grant for `req`.
    pub holds_grant: bool,
    /// In a `Sync` only: the receiver's incarnation it answers. A Sync meant for an earlier
    /// process of the receiver is stale (a fresh one follows) and is ignored.
    pub to_inc: Incarnation,
    /// The sender's token floor: no entry the sender knows of had a larger fencing token. The
    /// receiver raises its own floor to it (DESIGN.md, "Fencing tokens").
    pub token: Token,
    /// In a `Fence` the sender's clock at the send; in a `Fenced` the `Fence`'s, echoed: what
    /// the requester times its lease from.
    pub echo: u64,
}

impl Message {
    /// For a `Sync`: the sender's current request, if it has one.
    pub fn synced_request(&self) -> Option<RequestId> {
        (self.req.ts != Lamport(0)).then_some(self.req)
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
        /// of is larger; it includes the block of tokens reserved
        /// ([`TOKEN_BLOCK`](super::TOKEN_BLOCK)).
        floor: Token,
    },
    /// Record the token floor (the node's, for all its locks) in the journal, durably before any
    /// later action: a node that lost its journal keeps the floor its witnesses gave it, so a
    /// second loss before it confirms anything still finds a copy on its own disk. The lock
    /// this action is tagged with is immaterial.
    PersistFloor {
        /// The floor to record, with its reserved block.
        floor: Token,
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
        token: Token,
    },
    /// The holder's lease ran out by its own clock before it left: it is out of the CS now
    /// (the RELEASEs that follow are sent as after [`Node::exit_cs`](super::Node::exit_cs)).
    /// The caller must stop using the CS, as after an exit, and tell whoever held it through
    /// this node.
    LeaseExpired {
        /// The request that held the CS.
        req: RequestId,
        /// Its fencing token.
        token: Token,
        /// When the lease ran out, by the caller's clock (at or before now).
        ended_at: u64,
    },
    /// A decision worth a log line that sends nothing.
    Log(LogEvent),
}

/// What a voter changed in re-voting (the `what` of a `revote` log line). An enum rather than a
/// string so a producer cannot invent a kind the log readers and metrics do not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevoteKind {
    /// A vote given back.
    Freed,
    /// A queued request forgotten.
    Dropped,
    /// A lost request taken again.
    Requeued,
    /// A grant sent again.
    Regranted,
    /// A vote taken back from a suspected requester (DESIGN.md "Leases and reclaiming votes").
    Reclaimed,
}

impl RevoteKind {
    /// Every kind, in declaration order: lets a counter show each at 0 from the start.
    pub const ALL: [RevoteKind; 5] = [
        RevoteKind::Freed,
        RevoteKind::Dropped,
        RevoteKind::Requeued,
        RevoteKind::Regranted,
        RevoteKind::Reclaimed,
    ];

    /// The kind as a log line writes it (`what`): `"freed"`, ... (also the metrics label).
    pub fn name(self) -> &'static str {
        match self {
            RevoteKind::Freed => "freed",
            RevoteKind::Dropped => "dropped",
            RevoteKind::Requeued => "requeued",
            RevoteKind::Regranted => "regranted",
            RevoteKind::Reclaimed => "reclaimed",
        }
    }
}

/// The kind as a line writes it, for reports.
impl fmt::Display for RevoteKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
        /// What changed: a vote freed, a queued request dropped or requeued, a grant sent
        /// again, or a vote reclaimed from a suspected requester.
        what: RevoteKind,
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
    /// A waiting request was withdrawn because the configuration this node adopted no longer
    /// has it as a member (`maekawa cluster remove`): it cannot be granted any more, so whoever
    /// waits for it must be told.
    Withdrawn {
        /// The request.
        req: RequestId,
    },
    /// An INQUIRE is held back: this node has no reason yet to think it will lose.
    InquiryDeferred {
        /// The voter that asked.
        voter: NodeId,
        /// The request it asked about.
        req: RequestId,
    },
}
