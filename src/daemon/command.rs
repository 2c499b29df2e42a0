//! What the outside may ask of a running node's driver (`maekawa ctl` through the control
//! service), and the state it reports back.
//!
//! Both the driver and [`super::control`] use these types, so neither needs the other: the
//! control service only forwards a [`Control`] over a channel and carries the answer back.

use super::settings::Workload;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::Phase;
use tokio::sync::oneshot;

/// Commands from outside the node (`maekawa ctl` through the control service), each with
/// where to send the answer.
#[derive(Debug)]
pub enum Control {
    /// Want the CS now.
    Request(oneshot::Sender<Result<String, String>>),
    /// Leave the CS now.
    Release(oneshot::Sender<Result<String, String>>),
    /// Withdraw the request that still waits for votes.
    Cancel(oneshot::Sender<Result<String, String>>),
    /// Describe the node's state.
    Status(oneshot::Sender<Status>),
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
        /// The fencing token.
        token: u64,
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

/// One lock in use at a node, as `maekawa locks` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The lock's name.
    pub name: String,
    /// `held` (a session of this node holds it), `acquiring` (this node waits for votes) or
    /// `voting` (only this node's vote or voter queue is about it).
    pub state: &'static str,
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
