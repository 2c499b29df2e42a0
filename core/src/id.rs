//! Identifier types shared by every layer: who a node is and which request a message is about.
//!
//! They exist so that a node id, a Lamport timestamp, an incarnation, a fencing token and a
//! request never travel as bare integers that could be swapped by accident. This module must stay free of I/O and of wire types.

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

/// Defines a `u64` newtype that prints and serializes as the bare number.
macro_rules! number {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize,
            Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

number! {
    /// A Lamport timestamp: orders requests (a smaller one has priority) and moves every
    /// node's clock past what it hears. Its own type so it is never mixed up with an
    /// incarnation, a fencing token or a wall-clock instant, which are `u64`s too.
    Lamport
}

number! {
    /// Which process start of a node this is (1 for the first, one more per restart, kept by
    /// the journal). Its own type so a request's or a Sync's incarnation is never compared
    /// with a clock or a token.
    Incarnation
}

number! {
    /// The epoch of a cluster configuration (members, addresses, quorum system): 0 for the
    /// configuration file the cluster started from, one more per step of a membership change
    /// (the joint configuration, then the new one). Its own type so it is never mixed up with
    /// an incarnation or a clock, which are `u64`s too. DESIGN.md, "Membership changes".
    Epoch
}

number! {
    /// A fencing token: every entry into a lock's critical section gets one larger than every
    /// earlier entry's, and the token floors nodes exchange bound them. Its own type so a
    /// token never passes for a Lamport time or an incarnation.
    Token
}

impl Lamport {
    /// The time after `self`; saturates at the top (a peer's number may be `u64::MAX`).
    pub fn next(self) -> Lamport {
        Lamport(self.0.saturating_add(1))
    }
}

impl Incarnation {
    /// The incarnation of the next process start.
    pub fn next(self) -> Incarnation {
        Incarnation(self.0.saturating_add(1))
    }
}

impl Token {
    /// The token `n` after `self`; saturates at the top (a peer's floor may be `u64::MAX`).
    pub fn plus(self, n: u64) -> Token {
        Token(self.0.saturating_add(n))
    }

    /// The Lamport time with the same number: a node's clock is kept at or above its floor, so
    /// that a request's timestamp can serve as its token (fast grants).
    pub fn as_lamport(self) -> Lamport {
        Lamport(self.0)
    }

    /// The token with the number of a request's timestamp: what a fast entry uses.
    pub fn of_request(r: &RequestId) -> Token {
        Token(r.ts.0)
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
    pub ts: Lamport,
    /// The node that wants the critical section.
    pub node: NodeId,
    /// The incarnation (process start) of `node` that made the request. Absent in the CS
    /// log's `request` (PROTOCOL.md §4 fixes that shape), so it reads as 0 there.
    #[serde(default)]
    pub inc: Incarnation,
    /// The configuration epoch the request was made in: a voter grants only a request of its
    /// own epoch, so an entry gathers a quorum of the configuration it was made in (a request
    /// of an older one is made again in the newer one). Absent in logs before membership
    /// changes existed, so it reads as 0 there.
    #[serde(default, skip_serializing_if = "Epoch::is_zero")]
    pub epoch: Epoch,
}

impl Epoch {
    /// The epoch of the configuration file a cluster starts from.
    pub fn is_zero(&self) -> bool {
        self.0 == 0
    }
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
