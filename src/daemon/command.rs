//! What the outside may ask of a running node's driver (`maekawa ctl` through the control
//! service), and the state it reports back.
//!
//! Both the driver and [`super::control`] use these types, so neither needs the other: the
//! control service only forwards a [`Control`] over a channel and carries the answer back.

use super::settings::Workload;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::Phase;
use std::fmt;
use tokio::sync::oneshot;

/// Commands from outside the node (`maekawa ctl` through the control service), each with
/// where to send the answer.
#[derive(Debug)]
pub enum Control {
    /// Want the CS now.
    Request(oneshot::Sender<CtlOutcome>),
    /// Leave the CS now.
    Release(oneshot::Sender<CtlOutcome>),
    /// Withdraw the request that still waits for votes.
    Cancel(oneshot::Sender<CtlOutcome>),
    /// Describe the node's state.
    Status(oneshot::Sender<Status>),
    /// The node's cluster configuration: its epoch and its JSON (`maekawa cluster status`).
    Membership(oneshot::Sender<(u64, String)>),
    /// Whether the node drained `epoch` (see `Member::drained`), for a change's next step.
    Drained {
        /// The epoch.
        epoch: u64,
        /// The change's reserved lock and the coordinator's request on it.
        exempt: Option<(String, RequestId)>,
        /// Where the answer goes.
        reply: oneshot::Sender<Drained>,
    },
    /// Adopt this configuration (JSON), the next epoch after the node's, and pass it on.
    Propose {
        /// The configuration.
        json: String,
        /// What happened, or why not.
        reply: oneshot::Sender<Result<String, String>>,
    },
}

/// A node's answer to [`Control::Drained`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drained {
    /// It moved past the epoch and holds no vote for a request of it.
    pub drained: bool,
    /// Its configuration epoch.
    pub epoch: u64,
    /// Its journal's token floor.
    pub floor: u64,
    /// While not drained: which votes it still gives to requests of the epoch.
    pub holding: Vec<String>,
}

/// What the driver did with a `maekawa ctl request`, `release` or `cancel` of the emulated CS,
/// or why it did nothing. Typed, so the driver decides and the text is written in one place
/// ([`fmt::Display`], which the control service sends as the reply's message: the wire's
/// `CtlReply` carries text, which older `ctl` binaries print as is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CtlOutcome {
    /// `request`: the node asked for the CS with `req` (and, with a quorum of one, entered).
    Requested {
        /// The node.
        node: NodeId,
        /// Its request.
        req: RequestId,
        /// Whether it is already inside.
        entered: bool,
    },
    /// `request`: the core made no request (refused; the node log says why).
    CouldNotRequest {
        /// The node.
        node: NodeId,
    },
    /// `request`: the node already waits for votes.
    AlreadyWaiting {
        /// The node.
        node: NodeId,
        /// Its waiting request.
        req: RequestId,
    },
    /// `request`: the node is already in the CS.
    AlreadyInCs {
        /// The node.
        node: NodeId,
        /// The request it entered with.
        req: RequestId,
    },
    /// `release`: the node left the CS.
    Left {
        /// The node.
        node: NodeId,
        /// The request it had entered with.
        req: RequestId,
    },
    /// `release`: the node still waits for votes.
    StillWaiting {
        /// The node.
        node: NodeId,
        /// Its waiting request.
        req: RequestId,
        /// The voters it waits for.
        missing: Vec<NodeId>,
    },
    /// `release`: the node has no request.
    NotInCs {
        /// The node.
        node: NodeId,
    },
    /// `cancel`: the node withdrew its waiting request.
    Withdrew {
        /// The node.
        node: NodeId,
        /// The request withdrawn.
        req: RequestId,
    },
    /// `cancel`: the node is in the CS, nothing waits.
    InCsNothingToCancel {
        /// The node.
        node: NodeId,
        /// The request it entered with.
        req: RequestId,
    },
    /// `cancel`: the node is idle.
    IdleNothingToCancel {
        /// The node.
        node: NodeId,
    },
}

impl CtlOutcome {
    /// True when the node did what was asked (`ctl` exits 0), false when it refused (exit 1).
    pub fn ok(&self) -> bool {
        matches!(
            self,
            CtlOutcome::Requested { .. } | CtlOutcome::Left { .. } | CtlOutcome::Withdrew { .. }
        )
    }
}

impl fmt::Display for CtlOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CtlOutcome::Requested { node, req, entered: false } => {
                write!(f, "node {node} requested the CS with {req}")
            }
            CtlOutcome::Requested { node, req, entered: true } => {
                write!(f, "node {node} requested the CS with {req} and entered")
            }
            CtlOutcome::CouldNotRequest { node } => write!(f, "node {node} could not request"),
            CtlOutcome::AlreadyWaiting { node, req } => {
                write!(f, "node {node} already waits for the CS with request {req}")
            }
            CtlOutcome::AlreadyInCs { node, req } => {
                write!(f, "node {node} is already in the CS with request {req}")
            }
            CtlOutcome::Left { node, req } => write!(f, "node {node} left the CS (request {req})"),
            CtlOutcome::StillWaiting { node, req, missing } => {
                let missing: Vec<String> = missing.iter().map(|v| v.0.to_string()).collect();
                write!(
                    f,
                    "node {node} is not in the CS: it still waits for votes from [{}] for request {req}; to withdraw the request, run `maekawa ctl --node {node} cancel`",
                    missing.join(",")
                )
            }
            CtlOutcome::NotInCs { node } => {
                write!(f, "node {node} is not in the CS (it has no request)")
            }
            CtlOutcome::Withdrew { node, req } => write!(
                f,
                "node {node} withdrew its request {req}: it gave back its votes and will not enter"
            ),
            CtlOutcome::InCsNothingToCancel { node, req } => write!(
                f,
                "node {node} has no request waiting: it is in the CS with request {req}; to leave, run `maekawa ctl --node {node} release`"
            ),
            CtlOutcome::IdleNothingToCancel { node } => write!(
                f,
                "node {node} has no request waiting for votes (it is idle): nothing to cancel"
            ),
        }
    }
}

/// A node's state as `maekawa ctl status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The node.
    pub node: NodeId,
    /// Its incarnation.
    pub incarnation: u64,
    /// Idle, wanting or in the CS (with the request).
    pub phase: Phase,
    /// Its Lamport clock.
    pub lamport: u64,
    /// Voters whose grant it holds.
    pub granted: Vec<NodeId>,
    /// Voters it still waits for.
    pub missing: Vec<NodeId>,
    /// Voters that answered FAILED.
    pub failed: Vec<NodeId>,
    /// Voters it yielded to.
    pub yielded: Vec<NodeId>,
    /// The request its own vote is given to.
    pub lock: Option<RequestId>,
    /// Requests waiting for its vote, highest priority first.
    pub queue: Vec<RequestId>,
    /// CS entries of this process.
    pub entries: u64,
    /// How it decides to request.
    pub workload: Workload,
    /// Peers it suspects: nothing heard from them for `--suspect-after` (the transport's
    /// heartbeats keep idle links heard).
    pub suspected: Vec<NodeId>,
}

/// A client session's id at this node: unique for the life of the process.
pub type SessionId = u64;

/// What the lock service asks of the driver for client sessions (README, "Use it as a lock").
#[derive(Debug)]
pub enum LockCommand {
    /// A session wants lock `name`; tell it on `notices` when it holds it (or gave up).
    Acquire {
        /// The session.
        session: SessionId,
        /// The lock.
        name: String,
        /// How long to wait (`None`: forever; zero: try once).
        timeout: Option<std::time::Duration>,
        /// A semaphore's number of slots (`None` or 1: a mutex).
        limit: Option<u32>,
        /// What the client says it is (shown by `maekawa locks`).
        client: String,
        /// Where the driver reports to the session.
        notices: tokio::sync::mpsc::UnboundedSender<SessionNotice>,
    },
    /// The session is done (explicit release, stream closed, client gone): release the lock
    /// if it holds it, stop waiting if it waits.
    Release {
        /// The session.
        session: SessionId,
        /// True when the client asked (it gets a [`SessionNotice::Released`]).
        explicit: bool,
    },
    /// Every lock in use at this node.
    List(oneshot::Sender<Vec<LockInfo>>),
}

/// What the driver tells one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionNotice {
    /// The session holds the lock, with this fencing token.
    Acquired {
        /// The fencing token (of the slot, for a semaphore).
        token: u64,
        /// The semaphore's slot held (1 to its limit), 0 for a mutex.
        slot: u32,
    },
    /// The session gave up waiting.
    TimedOut {
        /// How long it waited, in milliseconds.
        waited_ms: u64,
    },
    /// The lock is released, as the client asked.
    Released {
        /// The token it was held with.
        token: u64,
    },
    /// The lock is lost: this node's lease ran out before the client released it (the node
    /// was paused or cut off from its voters). The client must stop using it.
    Lost {
        /// The token it was held with.
        token: u64,
    },
}

/// What a node is doing with a lock, as `maekawa locks` shows it. An enum so the driver's
/// refinement (`Voting` to `Acquiring`) matches on a kind, not on the text the wire carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// A session of this node holds it.
    Held,
    /// This node waits for votes for it.
    Acquiring,
    /// Only this node's vote or voter queue is about it.
    Voting,
}

impl LockState {
    /// The state as the Lock.List reply and `maekawa locks` write it: `held`, `acquiring` or
    /// `voting`.
    pub fn name(self) -> &'static str {
        match self {
            LockState::Held => "held",
            LockState::Acquiring => "acquiring",
            LockState::Voting => "voting",
        }
    }
}

/// The state as the wire writes it.
impl fmt::Display for LockState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One lock in use at a node, as `maekawa locks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The lock's name.
    pub name: String,
    /// Whether a session here holds it, this node waits for votes, or only votes on it.
    pub state: LockState,
    /// The holding session and its client, if a session of this node holds it.
    pub holder: Option<(SessionId, String)>,
    /// The holder's token (0 when not held here).
    pub token: u64,
    /// Sessions of this node waiting, in FIFO order, with their clients.
    pub waiting: Vec<(SessionId, String)>,
    /// This node's protocol request for the lock, if any.
    pub request: Option<RequestId>,
    /// The request this node's vote for the lock is given to.
    pub vote: Option<RequestId>,
    /// Requests queued at this node as voter.
    pub queue: Vec<RequestId>,
}
