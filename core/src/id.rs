//! Identifier types shared by every layer: who a node is and which request a message is about.
//!
//! They exist so that a node id, a Lamport timestamp and a request never travel as bare integers
//! that could be swapped by accident. This module must stay free of I/O and of wire types.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's identity as listed in `quorums.json`; also its tie-breaker in request priority.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One request for the critical section, `(ts, node)` made by incarnation `inc` of `node`.
///
/// The derived `Ord` *is* the priority: a smaller value wins (lower Lamport timestamp first,
/// node id breaks ties), so every voter ranks competing requests the same way. `inc` makes the
/// identity unique across restarts: a request of a dead process never equals a live one, so a
/// stale GRANT or INQUIRE can never be taken as current.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId {
    /// Lamport timestamp at which the request was made.
    pub ts: u64,
    /// The node that wants the critical section.
    pub node: NodeId,
    /// The incarnation (process start) of `node` that made the request. Absent in the CS
    /// log's `request` (PROTOCOL.md §4 fixes that shape), so it reads as 0 there.
    #[serde(default)]
    pub inc: u64,
}

impl RequestId {
    /// True when `self` must be served before `other`.
    pub fn beats(&self, other: &RequestId) -> bool {
        self < other
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({}, {})", self.ts, self.node)
    }
}
