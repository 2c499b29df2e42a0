//! The invariants a [`Cluster`] state is checked against after every step (PROTOCOL.md §2:
//! safety, increasing fencing tokens) and at the end of a run (no vote leaked), and the account
//! of a state for failure reports. Read-only but for the token record: choosing and applying
//! steps is the parent module's job.

use super::Cluster;
use crate::id::{NodeId, RequestId, Token};
use crate::member::LockName;
use crate::protocol::{NodeRef, Phase};
use std::collections::BTreeSet;

/// A broken invariant of a [`Cluster`] state: typed so a caller can tell the kinds apart; the
/// text (Display) is what the simulator and the explorer print in their failure reports.
#[derive(Clone, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Violation {
    /// Fencing tokens: an entry's token was not larger than an earlier entry's of its lock.
    #[error("{req} entered lock {lock} with token {token}, but an earlier entry had token {max}")]
    TokenNotIncreasing {
        /// The entering request.
        req: RequestId,
        /// The lock.
        lock: LockName,
        /// Its token.
        token: Token,
        /// The largest token of an earlier entry.
        max: Token,
    },
    /// A membership change: an entry whose votes hold no quorum of the configuration its
    /// request was made in (for the joint one: of the old or of the new).
    #[error("{req} of node {node} entered with the votes of {voters:?}, no quorum of its configuration (epoch {})", req.epoch)]
    EntryWithoutQuorum {
        /// The node.
        node: NodeId,
        /// Its request.
        req: RequestId,
        /// The voters whose grants it held.
        voters: BTreeSet<NodeId>,
    },
    /// A membership change: an entry of a configuration older than the two newest proposed
    /// (its quorums need not meet the newest's).
    #[error("{req} of node {node} entered in epoch {}, but epoch {proposed} was proposed already", req.epoch)]
    StaleConfiguration {
        /// The node.
        node: NodeId,
        /// Its request.
        req: RequestId,
        /// The newest proposed epoch.
        proposed: crate::id::Epoch,
    },
    /// Safety: two nodes in the CS of a lock at once.
    #[error(
        "lock {lock}: nodes {nodes:?} are in the CS at the same time (with leases: both unexpired)"
    )]
    TwoInCs {
        /// The lock.
        lock: LockName,
        /// The nodes in its CS.
        nodes: Vec<NodeId>,
    },
    /// Safety: a node in the CS without a grant from every voter of its quorum.
    #[error(
        "lock {lock}: node {node} is in the CS holding grants {granted:?} of quorum {quorum:?}"
    )]
    MissingGrants {
        /// The lock.
        lock: LockName,
        /// The node in the CS.
        node: NodeId,
        /// The grants it holds.
        granted: BTreeSet<NodeId>,
        /// Its quorum.
        quorum: Vec<NodeId>,
    },
    /// Safety: a requester counts a grant the voter no longer gives it (a vote held twice).
    #[error("lock {lock}: node {node} counts voter {voter}'s grant for {req}, but voter {voter} is locked by {locked:?}")]
    StaleGrant {
        /// The lock.
        lock: LockName,
        /// The requester.
        node: NodeId,
        /// The voter.
        voter: NodeId,
        /// The request the grant was for.
        req: RequestId,
        /// The request the voter's vote is given to now.
        locked: Option<RequestId>,
    },
    /// End of run: a voter still locked or queued when nothing more can happen.
    #[error("vote leak at voter {voter} on lock {lock}: lock {locked:?}, queue {queue:?}")]
    VoteLeak {
        /// The voter.
        voter: NodeId,
        /// The lock.
        lock: LockName,
        /// The request its vote is given to.
        locked: Option<RequestId>,
        /// Its queue.
        queue: BTreeSet<RequestId>,
    },
}

impl Cluster {
    /// Fencing tokens: every entry of a lock has a larger token than every earlier entry of it
    /// (entries of one lock never overlap, so "earlier" is "ended before this one began").
    pub(super) fn entered(&mut self, lock: usize, req: RequestId, token: Token) {
        if let Some(max) = self.max_token[lock] {
            if token <= max && self.token_error.is_none() {
                self.token_error = Some(Violation::TokenNotIncreasing {
                    req,
                    lock: self.names[lock].clone(),
                    token,
                    max,
                });
            }
        }
        self.max_token[lock] = Some(self.max_token[lock].map_or(token, |m| m.max(token)));
    }

    /// PROTOCOL.md's safety invariants, checked on the current state: at most one node in the
    /// CS; a node in the CS holds a grant from its whole quorum; every grant a requester counts
    /// is the voter's current lock (so no vote is held by two requests).
    pub fn check_safety(&self) -> Result<(), Violation> {
        if let Some(e) = self.token_error.as_ref().or(self.config_error.as_ref()) {
            return Err(e.clone());
        }
        for name in self.names.iter() {
            self.check_lock_safety(name)?;
        }
        Ok(())
    }

    /// True when `node` is in the CS of its lock and, with leases, its lease has not run out
    /// by the global clock (a paused holder past its lease may still believe it is in).
    fn holds(&self, node: NodeRef<'_>) -> bool {
        let Phase::InCs(_) = node.phase() else {
            return false;
        };
        let o = node.options();
        !o.leases
            || node
                .requester()
                .lease_from
                .is_some_and(|from| self.time < from.saturating_add(o.lease))
    }

    fn check_lock_safety(&self, name: &LockName) -> Result<(), Violation> {
        let in_cs: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|m| m.lock(name.as_str()).is_some_and(|n| self.holds(n)))
            .map(|n| n.id())
            .collect();
        if in_cs.len() > 1 {
            return Err(Violation::TwoInCs {
                lock: name.clone(),
                nodes: in_cs,
            });
        }
        for member in &self.nodes {
            let Some(node) = member.lock(name.as_str()) else {
                continue;
            };
            let leases = node.options().leases;
            let req = match node.phase() {
                Phase::Idle => continue,
                // With leases a waiting requester may count a vote that was reclaimed (the
                // Revoked is on its way): it cannot enter on it.
                Phase::Wanting(_) if leases => continue,
                Phase::InCs(_) if leases && !self.holds(node) => continue,
                Phase::Wanting(r) => r,
                Phase::InCs(r) => {
                    if node.requester().granted.iter().ne(node.quorum().iter()) {
                        return Err(Violation::MissingGrants {
                            lock: name.clone(),
                            node: node.id(),
                            granted: node.requester().granted.clone(),
                            quorum: node.quorum().to_vec(),
                        });
                    }
                    r
                }
            };
            for &v in &node.requester().granted {
                let lock = self
                    .node(v)
                    .lock(name.as_str())
                    .and_then(|n| n.voter().lock);
                // A voter that restarted and forgot its votes grants nothing until every lease
                // they carried ran out: an unexpired holder may still count its vote then.
                let frozen = self.time < self.node(v).quiet_until();
                if lock != Some(req) && !frozen {
                    return Err(Violation::StaleGrant {
                        lock: name.clone(),
                        node: node.id(),
                        voter: v,
                        req,
                        locked: lock,
                    });
                }
            }
        }
        Ok(())
    }

    /// True when nothing more can happen: no message in flight, no request left, nobody in the
    /// CS or waiting.
    pub fn is_finished(&self) -> bool {
        self.in_flight() == 0
            && self.remaining.iter().all(|&r| r == 0)
            && self
                .nodes
                .iter()
                .filter(|n| !self.stopped.contains(&n.id()))
                .all(|n| self.phase(n.id()) == Phase::Idle)
    }

    /// The end-of-run check: when quiet, every voter is unlocked with an empty queue.
    pub fn check_no_vote_leak(&self) -> Result<(), Violation> {
        for member in self
            .nodes
            .iter()
            .filter(|m| !self.stopped.contains(&m.id()))
        {
            // A lock's state is dropped when quiet: any lock still in use is a leak, except
            // requests of nodes dead for good, which wait in a queue (never granted while
            // suspected) for a restart that will not come.
            let leak = member.locks().find(|(_, node)| {
                let v = node.voter();
                node.phase() != Phase::Idle
                    || v.lock.is_some()
                    || v.queue.iter().any(|r| !self.stopped.contains(&r.node))
            });
            if let Some((name, node)) = leak {
                let v = node.voter();
                return Err(Violation::VoteLeak {
                    voter: node.id(),
                    lock: name.clone(),
                    locked: v.lock,
                    queue: v.queue.clone(),
                });
            }
        }
        Ok(())
    }

    /// A one-line account of who waits for whom, for deadlock reports.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        for (name, node) in self.nodes.iter().flat_map(|m| m.locks()) {
            let v = node.voter();
            parts.push(format!(
                "node {} lock {name}: {:?} granted {:?} failed {:?} yielded {:?} deferred {:?} | lock {:?} queue {:?}",
                node.id(),
                node.phase(),
                node.requester().granted,
                node.requester().failed,
                node.requester().yielded,
                node.requester().deferred,
                v.lock,
                v.queue
            ));
        }
        if self.plan.is_some() {
            // A membership change: where each node stands, and what is still owed to it.
            for m in self.nodes.iter() {
                let id = m.id();
                parts.push(format!(
                    "node {id}: epoch {} (proposed {}), member {}, {} request(s) to make{}{}",
                    m.epoch(),
                    self.proposed,
                    self.is_member(id),
                    self.remaining[id.0 as usize],
                    if self.stopped.contains(&id) {
                        ", dead"
                    } else {
                        ""
                    },
                    if m.awaits_floor() {
                        ", awaits its floor"
                    } else {
                        ""
                    },
                ));
            }
        }
        parts.join("\n")
    }
}
