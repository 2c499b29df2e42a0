//! An in-memory cluster of protocol cores joined by FIFO links: the world that the simulator
//! ([`crate::sim`]) and the exhaustive explorer ([`crate::explore`]) both drive.
//!
//! A [`Cluster`] holds only protocol state (cores, messages in flight, requests still to make),
//! so two clusters that compare equal behave the same from then on; that is what lets the
//! explorer hash and deduplicate states. Who chooses the next [`Step`] is the caller's business.
//! No randomness, no clock, no I/O here.

use crate::id::{NodeId, RequestId};
use crate::member::{LockAction, LockName, Member};
use crate::protocol::{Action, Message, Options, Phase};
use crate::quorum::QuorumSystem;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

/// One thing that can happen next.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    /// The oldest message on the link `from → to` is delivered.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// The node decides it wants the CS: the next lock of its plan.
    Request(NodeId),
    /// The node leaves the CS of the lock it holds.
    Exit(NodeId),
    /// The node withdraws the request it waits with (`maekawa ctl cancel`, a client's timeout).
    Cancel(NodeId),
    /// `kill -9` of the node and its restart as a new incarnation: its volatile state is lost,
    /// its journal (the voter lock) is kept. Messages in flight *to* it are either all
    /// redelivered to the new process (its peers resend what it had not acknowledged) or all
    /// lost (acknowledged but not yet handled); messages *from* it either all arrive (already
    /// handed to the peer) or are all lost. Then every link carries a Hello that announces the
    /// incarnation on either side.
    Crash {
        /// The node.
        node: NodeId,
        /// In-flight messages to it survive.
        keep_inbound: bool,
        /// In-flight messages from it survive.
        keep_outbound: bool,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Deliver { from, to } => write!(f, "deliver {from}->{to}"),
            Step::Request(n) => write!(f, "node {n} requests the CS"),
            Step::Exit(n) => write!(f, "node {n} exits the CS"),
            Step::Cancel(n) => write!(f, "node {n} withdraws its request"),
            Step::Crash {
                node,
                keep_inbound,
                keep_outbound,
            } => write!(
                f,
                "node {node} is killed and restarts (messages to it {}, from it {})",
                if *keep_inbound { "resent" } else { "lost" },
                if *keep_outbound { "kept" } else { "lost" }
            ),
        }
    }
}

/// What a step did, for statistics and traces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepEffect {
    /// Messages sent by the step, with their destination (self-messages included).
    pub sent: Vec<(NodeId, Message)>,
    /// The message delivered, if the step was a delivery.
    pub delivered: Option<Message>,
    /// Self-messages handled within the step (when self-messages are not queued).
    pub handled_locally: Vec<Message>,
    /// The request that entered the CS during this step, if any (self-messages handled within
    /// the step can let the node in).
    pub entered: Option<RequestId>,
    /// The lock (an index into [`Cluster::lock_names`]) and fencing token of that entry.
    pub entered_lock: Option<(usize, u64)>,
}

/// What travels on a link: a protocol message, or the transport's Hello that opens a link
/// from a (new) incarnation of the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// A protocol message about the lock with this index in [`Cluster::lock_names`].
    Msg(u8, Message),
    /// The sender is this incarnation, with this token floor.
    Hello(u64, u64),
}

/// Crash-related settings of a cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CrashModel {
    /// How many crash-restarts may still happen.
    pub crashes: u32,
    /// Whether voters journal their lock (turned off only to show the checkers catch the
    /// double grant that follows).
    pub journal: bool,
    /// Whether the token floor survives a restart (turned off only to show the checkers catch
    /// the repeated token that follows).
    pub journal_token: bool,
}

impl Default for CrashModel {
    fn default() -> Self {
        CrashModel {
            crashes: 0,
            journal: true,
            journal_token: true,
        }
    }
}

/// What a node's journal holds: its votes by lock, and its token floor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Journal {
    votes: Vec<Option<RequestId>>,
    floor: u64,
}

/// Nodes `0..n`, their cores, and a FIFO queue per ordered pair (self-links included).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cluster {
    // Shared until written (`Arc::make_mut`): a step changes one node and a few links, so the
    // explorer's copy of a state per transition copies little. Unique in the simulator, where
    // `make_mut` costs nothing.
    nodes: Vec<Arc<Member>>,
    links: Vec<Arc<VecDeque<Item>>>,
    /// Requests each node has yet to make.
    remaining: Vec<u32>,
    /// Requests each node has made: its k-th request is for lock `(node + k) % locks`.
    made: Vec<u32>,
    names: Arc<[LockName]>,
    /// The largest token of any entry so far, per lock.
    max_token: Vec<Option<u64>>,
    /// The first entry whose token was not larger than every earlier one of its lock.
    token_error: Option<String>,
    /// Each node's journal.
    journals: Vec<Journal>,
    /// How many withdrawals of a waiting request may still happen.
    cancels: u32,
    crash: CrashModel,
    /// Self-messages wait on the self-link like any other (more interleavings) instead of
    /// being handled within the step that sent them (what the daemon does).
    queued_self: bool,
}

impl Cluster {
    /// `n` nodes on the grid quorums, each of which will request the CS `requests` times.
    ///
    /// With `queued_self`, a node's messages to itself travel its self-link and may be
    /// delivered at any later step; without it they are handled at once, within the step that
    /// sent them, as the daemon's driver does.
    pub fn new(n: usize, requests: u32, options: Options, queued_self: bool) -> Cluster {
        Cluster::with_crashes(n, requests, options, queued_self, CrashModel::default())
    }

    /// As [`Cluster::new`], allowing crash-restart steps.
    pub fn with_crashes(
        n: usize,
        requests: u32,
        options: Options,
        queued_self: bool,
        crash: CrashModel,
    ) -> Cluster {
        Cluster::with_locks(n, requests, 1, options, queued_self, crash)
    }

    /// As [`Cluster::with_crashes`], with `locks` lock names (`a`, `b`, ...; just `cs` when
    /// there is one). Node `i` asks for its locks in turn, starting with lock `i % locks`, one
    /// at a time.
    pub fn with_locks(
        n: usize,
        requests: u32,
        locks: usize,
        options: Options,
        queued_self: bool,
        crash: CrashModel,
    ) -> Cluster {
        assert!((1..=26).contains(&locks), "1 to 26 lock names");
        let ids: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
        let quorums = QuorumSystem::grid(&ids);
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut node = Member::new(id, quorums.quorum(id), options);
                for &peer in ids.iter().filter(|&&p| p != id) {
                    node.assume_peer(peer, 1);
                }
                Arc::new(node)
            })
            .collect();
        let names: Vec<LockName> = if locks == 1 {
            vec![LockName::from(LockName::CS)]
        } else {
            (0..locks)
                .map(|i| LockName::from(((b'a' + i as u8) as char).to_string().as_str()))
                .collect()
        };
        Cluster {
            nodes,
            links: (0..n * n).map(|_| Arc::new(VecDeque::new())).collect(),
            remaining: vec![requests; n],
            made: vec![0; n],
            names: names.into(),
            max_token: vec![None; locks],
            token_error: None,
            journals: vec![
                Journal {
                    votes: vec![None; locks],
                    floor: 0
                };
                n
            ],
            crash,
            queued_self,
            cancels: 0,
        }
    }

    /// Allows `cancels` withdrawals of a waiting request ([`Step::Cancel`]), at any moment.
    pub fn with_cancels(mut self, cancels: u32) -> Cluster {
        self.cancels = cancels;
        self
    }

    /// The lock names, in index order.
    pub fn lock_names(&self) -> &[LockName] {
        &self.names
    }

    fn lock_index(&self, lock: &LockName) -> u8 {
        self.names
            .iter()
            .position(|l| l == lock)
            .expect("a lock of this cluster") as u8
    }

    /// The lock node `id` asks for next.
    fn next_lock(&self, id: NodeId) -> &LockName {
        let i = id.0 as usize + self.made[id.0 as usize] as usize;
        &self.names[i % self.names.len()]
    }

    /// Where node `id` stands on the lock it is busy with (`Idle` when it is busy with none):
    /// a node of this cluster asks for one lock at a time.
    pub fn phase(&self, id: NodeId) -> Phase {
        self.busy_lock(id).map_or(Phase::Idle, |(_, p)| p)
    }

    fn busy_lock(&self, id: NodeId) -> Option<(&LockName, Phase)> {
        self.node(id)
            .locks()
            .map(|(l, n)| (l, n.phase()))
            .find(|(_, p)| *p != Phase::Idle)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// True for a cluster of no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The core of node `id`.
    pub fn node(&self, id: NodeId) -> &Member {
        &self.nodes[id.0 as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Member {
        Arc::make_mut(&mut self.nodes[id.0 as usize])
    }

    /// Requests node `id` has yet to make.
    pub fn remaining(&self, id: NodeId) -> u32 {
        self.remaining[id.0 as usize]
    }

    /// Items in flight on `from → to`, oldest first.
    pub fn link(&self, from: NodeId, to: NodeId) -> &VecDeque<Item> {
        self.links[self.link_index(from, to)].as_ref()
    }

    fn link_index(&self, from: NodeId, to: NodeId) -> usize {
        from.0 as usize * self.nodes.len() + to.0 as usize
    }

    /// Messages in flight on all links.
    pub fn in_flight(&self) -> usize {
        self.links.iter().map(|l| l.len()).sum()
    }

    /// Appends every step that can happen now to `out` (cleared first), in a fixed order.
    pub fn enabled(&self, out: &mut Vec<Step>) {
        out.clear();
        let n = self.nodes.len();
        for (i, link) in self.links.iter().enumerate() {
            if !link.is_empty() {
                out.push(Step::Deliver {
                    from: NodeId((i / n) as u32),
                    to: NodeId((i % n) as u32),
                });
            }
        }
        for node in &self.nodes {
            match self.phase(node.id()) {
                Phase::Idle if self.remaining[node.id().0 as usize] > 0 => {
                    out.push(Step::Request(node.id()))
                }
                Phase::InCs(_) => out.push(Step::Exit(node.id())),
                Phase::Wanting(_) if self.cancels > 0 => out.push(Step::Cancel(node.id())),
                _ => {}
            }
        }
        if self.crash.crashes > 0 {
            for node in &self.nodes {
                for (keep_inbound, keep_outbound) in
                    [(true, true), (true, false), (false, true), (false, false)]
                {
                    out.push(Step::Crash {
                        node: node.id(),
                        keep_inbound,
                        keep_outbound,
                    });
                }
            }
        }
    }

    /// Crash-restarts still allowed.
    pub fn crashes_left(&self) -> u32 {
        self.crash.crashes
    }

    fn crash_restart(
        &mut self,
        c: NodeId,
        keep_inbound: bool,
        keep_outbound: bool,
    ) -> Vec<LockAction> {
        self.crash.crashes -= 1;
        let n = self.nodes.len();
        let old = self.node(c);
        let (quorum, options, incarnation) =
            (old.quorum().to_vec(), old.options(), old.incarnation());
        let journal = &self.journals[c.0 as usize];
        let votes: Vec<(LockName, RequestId)> = if self.crash.journal {
            journal
                .votes
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|r| (self.names[i].clone(), r)))
                .collect()
        } else {
            Vec::new()
        };
        let floor = if self.crash.journal_token {
            journal.floor
        } else {
            0
        };
        let (restored, actions) =
            Member::restore(c, &quorum, incarnation + 1, &votes, floor, options);
        self.nodes[c.0 as usize] = Arc::new(restored);
        for x in 0..n as u32 {
            let x = NodeId(x);
            let (to_c, from_c) = (self.link_index(x, c), self.link_index(c, x));
            if x == c {
                Arc::make_mut(&mut self.links[to_c]).clear();
                continue;
            }
            let inbound = Arc::make_mut(&mut self.links[to_c]);
            if !keep_inbound {
                inbound.clear();
            }
            let peer = &self.nodes[x.0 as usize];
            inbound.push_front(Item::Hello(peer.incarnation(), peer.floor()));
            let outbound = Arc::make_mut(&mut self.links[from_c]);
            if !keep_outbound {
                outbound.clear();
            }
            outbound.push_back(Item::Hello(incarnation + 1, floor));
        }
        // The restored votes' Resyncs were sent by the new process: they follow its Hellos.
        actions
    }

    /// Performs `step`, which must be enabled.
    pub fn apply(&mut self, step: Step) -> StepEffect {
        let mut effect = StepEffect::default();
        let (actor, actions) = match step {
            Step::Deliver { from, to } => {
                let i = self.link_index(from, to);
                let item = Arc::make_mut(&mut self.links[i])
                    .pop_front()
                    .expect("deliver on an empty link");
                match item {
                    Item::Msg(lock, msg) => {
                        effect.delivered = Some(msg);
                        let lock = self.names[lock as usize].clone();
                        (to, self.node_mut(to).handle(from, &lock, msg))
                    }
                    Item::Hello(inc, floor) => {
                        (to, self.node_mut(to).peer_incarnation(from, inc, floor))
                    }
                }
            }
            Step::Crash {
                node,
                keep_inbound,
                keep_outbound,
            } => (node, self.crash_restart(node, keep_inbound, keep_outbound)),
            Step::Request(id) => {
                self.remaining[id.0 as usize] -= 1;
                let lock = self.next_lock(id).clone();
                self.made[id.0 as usize] += 1;
                let actions = self
                    .node_mut(id)
                    .request_cs(&lock)
                    .expect("request from an idle node");
                (id, actions)
            }
            Step::Cancel(id) => {
                self.cancels -= 1;
                let (lock, _) = self.busy_lock(id).expect("cancel from a waiting node");
                let lock = lock.clone();
                (
                    id,
                    self.node_mut(id)
                        .cancel_cs(&lock)
                        .expect("cancel from a waiting node"),
                )
            }
            Step::Exit(id) => {
                let (lock, _) = self.busy_lock(id).expect("exit from a node in the CS");
                let lock = lock.clone();
                (
                    id,
                    self.node_mut(id)
                        .exit_cs(&lock)
                        .expect("exit from a node in the CS"),
                )
            }
        };
        let mut local: VecDeque<(u8, Message)> = VecDeque::new();
        let mut actions = actions;
        loop {
            for LockAction { lock, action } in actions {
                let ix = self.lock_index(&lock);
                match action {
                    Action::Send { to, msg } => {
                        effect.sent.push((to, msg));
                        if to == actor && !self.queued_self {
                            local.push_back((ix, msg));
                        } else {
                            let i = self.link_index(actor, to);
                            Arc::make_mut(&mut self.links[i]).push_back(Item::Msg(ix, msg));
                        }
                    }
                    Action::EnterCs { req, token, .. } => {
                        effect.entered = Some(req);
                        effect.entered_lock = Some((ix as usize, token));
                        self.entered(ix as usize, req, token);
                    }
                    Action::Persist { lock, floor } => {
                        let journal = &mut self.journals[actor.0 as usize];
                        journal.votes[ix as usize] = lock;
                        journal.floor = floor;
                    }
                    Action::Log(_) => {}
                }
            }
            match local.pop_front() {
                Some((ix, msg)) => {
                    effect.handled_locally.push(msg);
                    let lock = self.names[ix as usize].clone();
                    actions = self.node_mut(actor).handle(actor, &lock, msg);
                }
                None => break,
            }
        }
        effect
    }

    /// Fencing tokens: every entry of a lock has a larger token than every earlier entry of it
    /// (entries of one lock never overlap, so "earlier" is "ended before this one began").
    fn entered(&mut self, lock: usize, req: RequestId, token: u64) {
        if let Some(max) = self.max_token[lock] {
            if token <= max && self.token_error.is_none() {
                self.token_error = Some(format!(
                    "{req} entered lock {} with token {token}, but an earlier entry had token {max}",
                    self.names[lock]
                ));
            }
        }
        self.max_token[lock] = Some(self.max_token[lock].map_or(token, |m| m.max(token)));
    }

    /// PROTOCOL.md's safety invariants, checked on the current state: at most one node in the
    /// CS; a node in the CS holds a grant from its whole quorum; every grant a requester counts
    /// is the voter's current lock (so no vote is held by two requests).
    pub fn check_safety(&self) -> Result<(), String> {
        if let Some(e) = &self.token_error {
            return Err(e.clone());
        }
        for name in self.names.iter() {
            self.check_lock_safety(name)
                .map_err(|e| format!("lock {name}: {e}"))?;
        }
        Ok(())
    }

    fn check_lock_safety(&self, name: &LockName) -> Result<(), String> {
        let in_cs: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| matches!(n.phase(name.as_str()), Phase::InCs(_)))
            .map(|n| n.id())
            .collect();
        if in_cs.len() > 1 {
            return Err(format!("nodes {in_cs:?} are in the CS at the same time"));
        }
        for member in &self.nodes {
            let Some(node) = member.lock(name.as_str()) else {
                continue;
            };
            let req = match node.phase() {
                Phase::Idle => continue,
                Phase::Wanting(r) => r,
                Phase::InCs(r) => {
                    if node.requester().granted.iter().ne(node.quorum().iter()) {
                        return Err(format!(
                            "node {} is in the CS holding grants {:?} of quorum {:?}",
                            node.id(),
                            node.requester().granted,
                            node.quorum()
                        ));
                    }
                    r
                }
            };
            for &v in &node.requester().granted {
                let lock = self
                    .node(v)
                    .lock(name.as_str())
                    .and_then(|n| n.voter().lock);
                if lock != Some(req) {
                    return Err(format!(
                        "node {} counts voter {v}'s grant for {req}, but voter {v} is locked by {lock:?}",
                        node.id()
                    ));
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
            && self.nodes.iter().all(|n| self.phase(n.id()) == Phase::Idle)
    }

    /// The end-of-run check: when quiet, every voter is unlocked with an empty queue.
    pub fn check_no_vote_leak(&self) -> Result<(), String> {
        for member in &self.nodes {
            // A lock's state is dropped when quiet: any lock still in use is a leak.
            if let Some((name, node)) = member.locks().next() {
                let v = node.voter();
                return Err(format!(
                    "vote leak at voter {} on lock {name}: lock {:?}, queue {:?}",
                    node.id(),
                    v.lock,
                    v.queue
                ));
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
        parts.join("\n")
    }
}
