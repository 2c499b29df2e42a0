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
}
