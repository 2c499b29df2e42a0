//! An in-memory cluster of protocol cores joined by FIFO links: the world that the simulator
//! ([`crate::sim`]) and the exhaustive explorer ([`crate::explore`]) both drive.
//!
//! A [`Cluster`] holds only protocol state (cores, messages in flight, requests still to make),
//! so two clusters that compare equal behave the same from then on; that is what lets the
//! explorer hash and deduplicate states. Who chooses the next [`Step`] is the caller's business.
//! No randomness, no clock, no I/O here. The invariants a state is checked against are in
//! `checks`.

mod checks;
mod crash;
mod lost;
mod reconfig;

pub use checks::Violation;
pub use reconfig::{Change, ChangeModel, Plan};

use crate::id::{Epoch, Incarnation, NodeId, RequestId, Token};
use crate::member::{LockAction, LockName, Member};
use crate::protocol::{Action, Message, MsgKind, Options, Phase};
use crate::quorum::QuorumSystem;
use std::collections::{BTreeSet, VecDeque};
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
        /// Its disk is lost too: the journal is gone, and the new process starts as a new
        /// host would ([`Member::rejoin`]), its incarnation found from its peers.
        lose_disk: bool,
    },
    /// The node dies for good: it takes no more steps, and what is sent to it is lost. Its
    /// messages already on their way still arrive.
    Stop(NodeId),
    /// Time passes: the global clock moves one unit (a node that takes no step meanwhile is
    /// paused, and one message held meanwhile is a partition).
    Tick,
    /// The node's timer fires: it reads the clock ([`Member::tick`]).
    Wake(NodeId),
    /// `node` starts suspecting `peer` (rightly when `peer` is stopped) or stops suspecting it.
    Suspect {
        /// Who suspects.
        node: NodeId,
        /// Whom.
        peer: NodeId,
        /// Suspects (true) or lifts the suspicion (false).
        on: bool,
    },
    /// The administrator proposes the next configuration of the run's membership change
    /// ([`Plan`]): a live node adopts it and tells the others.
    Propose,
}

impl Step {
    /// The node that takes this step (none for time passing).
    pub fn actor(self) -> Option<NodeId> {
        match self {
            Step::Deliver { to, .. } => Some(to),
            Step::Request(id)
            | Step::Exit(id)
            | Step::Cancel(id)
            | Step::Wake(id)
            | Step::Stop(id)
            | Step::Crash { node: id, .. } => Some(id),
            Step::Suspect { node, .. } => Some(node),
            Step::Tick | Step::Propose => None,
        }
    }
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
                lose_disk,
            } => write!(
                f,
                "node {node} is killed and restarts{} (messages to it {}, from it {})",
                if *lose_disk {
                    " with its disk lost"
                } else {
                    ""
                },
                if *keep_inbound { "resent" } else { "lost" },
                if *keep_outbound { "kept" } else { "lost" }
            ),
            Step::Stop(n) => write!(f, "node {n} dies for good"),
            Step::Tick => write!(f, "time passes"),
            Step::Propose => write!(f, "the next configuration is proposed"),
            Step::Wake(n) => write!(f, "node {n} reads the clock"),
            Step::Suspect { node, peer, on } => write!(
                f,
                "node {node} {} node {peer}",
                if *on {
                    "suspects"
                } else {
                    "no longer suspects"
                }
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
    pub entered_lock: Option<(usize, Token)>,
    /// Waiting requests withdrawn because their node left the configuration: owed no entry.
    pub withdrawn: u32,
}

/// What travels on a link: a protocol message, or the transport's Hello that opens a link
/// from a (new) incarnation of the sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Item {
    /// A protocol message about the lock with this index in [`Cluster::lock_names`].
    Msg(u8, Message),
    /// The sender is this incarnation, with this token floor; true when it lost its journal
    /// and waits for floor witnesses; in this configuration epoch.
    Hello(Incarnation, Token, bool, Epoch),
}

/// The explorer's time bound: a holder wrongly suspected by a voter renews its lease forever
/// (both are right to), so time must stop somewhere for the state space to be finite.
pub const MAX_TIME: u64 = 4;

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
    /// How many nodes may still die for good ([`Step::Stop`]).
    pub stops: u32,
    /// How many wrong suspicions (of a live node) may still happen. Suspecting a stopped node,
    /// and lifting a wrong suspicion, are always possible: suspicion is eventually right.
    pub wrong_suspicions: u32,
    /// How many of the crash-restarts may lose the node's disk as well (each counts as a
    /// crash too).
    pub disk_losses: u32,
}

impl Default for CrashModel {
    fn default() -> Self {
        CrashModel {
            crashes: 0,
            journal: true,
            journal_token: true,
            stops: 0,
            wrong_suspicions: 0,
            disk_losses: 0,
        }
    }
}

/// What a node's journal holds: its votes by lock, and its token floor.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Journal {
    votes: Vec<Option<RequestId>>,
    floor: Token,
    /// The disk was lost, and the process that lost it has not yet both recorded the floor it
    /// learned from witnesses and waited out its quiet period: the next process starts as one
    /// that lost its journal ([`Member::lost_journal`]).
    lost: bool,
    /// The configuration epoch the node adopted last (its configuration file).
    epoch: Epoch,
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
    max_token: Vec<Option<Token>>,
    /// The first entry whose token was not larger than every earlier one of its lock.
    token_error: Option<Violation>,
    /// Each node's journal.
    journals: Vec<Journal>,
    /// How many withdrawals of a waiting request may still happen.
    cancels: u32,
    crash: CrashModel,
    /// The global clock ([`Step::Tick`]).
    time: u64,
    /// Where the clock stops.
    time_limit: u64,
    /// How many nodes may be dead for good with every live node still served (the quorum
    /// system's worst case).
    survivable: usize,
    /// Nodes stopped for good.
    stopped: BTreeSet<NodeId>,
    /// Self-messages wait on the self-link like any other (more interleavings) instead of
    /// being handled within the step that sent them (what the daemon does).
    queued_self: bool,
    /// The run's membership change, if any.
    plan: Option<Arc<Plan>>,
    /// The configuration epoch proposed last.
    proposed: Epoch,
    /// The token floor each proposed configuration carries, by epoch.
    config_floors: Vec<Token>,
    /// The first entry that broke what a membership change asks of it.
    config_error: Option<Violation>,
    /// A proposal waits for the epoch before the current one to be drained (off only to
    /// show the checkers catch the overlap that follows).
    drain_proposal: bool,
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
        // The model's time unit is one Tick: a lease of 2 (renewed after 1), reclaimed after 3.
        let options = Options {
            lease: 2,
            reclaim_after: 3,
            ..options
        };
        let ids: Vec<NodeId> = (0..n as u32).map(NodeId).collect();
        let quorums = Arc::new(QuorumSystem::grid(&ids));
        let nodes = ids
            .iter()
            .map(|&id| {
                let mut node = Member::with_system(id, quorums.clone(), options);
                for &peer in ids.iter().filter(|&&p| p != id) {
                    node.assume_peer(peer, Incarnation(1));
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
                    floor: Token(0),
                    lost: false,
                    epoch: Epoch(0),
                };
                n
            ],
            crash,
            time: 0,
            time_limit: u64::MAX,
            survivable: quorums.survives(),
            stopped: BTreeSet::new(),
            queued_self,
            cancels: 0,
            plan: None,
            proposed: Epoch(0),
            config_floors: vec![Token(0)],
            config_error: None,
            drain_proposal: true,
        }
    }

    /// The global clock.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// True when the clock reached [`MAX_TIME`]: a run that ends here waiting for a reclaim is
    /// cut short by the model's bound, not stuck.
    pub fn out_of_time(&self) -> bool {
        self.time >= self.time_limit
    }

    /// Stops the clock at `limit` (the explorer's [`MAX_TIME`]; the simulator's time is
    /// unbounded).
    pub fn with_time_limit(mut self, limit: u64) -> Cluster {
        self.time_limit = limit;
        self
    }

    /// True when `id` died for good.
    pub fn is_stopped(&self, id: NodeId) -> bool {
        self.stopped.contains(&id)
    }

    /// True when a live voter holds the confirmed vote of a suspected requester and the
    /// reclaim period has not passed yet, or a restarted voter that forgot its votes is in its
    /// quiet period: time passes only then (and so stays bounded).
    fn waits_for_time(&self) -> bool {
        let options = self.nodes.first().map(|n| n.options());
        if !options.is_some_and(|o| o.leases) {
            return false;
        }
        self.nodes
            .iter()
            .filter(|m| !self.stopped.contains(&m.id()))
            .any(|m| {
                // A restarted voter that forgot its votes waits out its quiet period.
                self.time < m.quiet_until()
                    || m.locks().any(|(_, node)| {
                        let v = node.voter();
                        let o = node.options();
                        v.fenced
                            && self.time < v.since.saturating_add(o.reclaim_after)
                            && v.lock.is_some_and(|l| {
                                l.node != m.id() && m.suspected().contains(&l.node)
                            })
                    })
            })
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
        for node in self
            .nodes
            .iter()
            .filter(|m| !self.stopped.contains(&m.id()))
        {
            match self.phase(node.id()) {
                Phase::Idle
                    if self.remaining[node.id().0 as usize] > 0 && self.is_member(node.id()) =>
                {
                    out.push(Step::Request(node.id()))
                }
                Phase::InCs(_) => out.push(Step::Exit(node.id())),
                Phase::Wanting(_) if self.cancels > 0 => out.push(Step::Cancel(node.id())),
                _ => {}
            }
        }
        let live: Vec<NodeId> = self
            .nodes
            .iter()
            .map(|m| m.id())
            .filter(|id| !self.stopped.contains(id))
            .collect();
        // Deaths beyond what the quorum system survives would stop everyone, rightly.
        if self.crash.stops > 0 && self.stopped.len() < self.survivable {
            out.extend(live.iter().map(|&id| Step::Stop(id)));
        }
        if self.waits_for_time() && self.time < self.time_limit {
            out.push(Step::Tick);
        }
        if self.may_propose().is_some() {
            out.push(Step::Propose);
        }
        for &id in &live {
            if self.node(id).wants_tick(self.time) {
                out.push(Step::Wake(id));
            }
            for peer in (0..n as u32).map(NodeId).filter(|&p| p != id) {
                let suspected = self.node(id).suspected().contains(&peer);
                let dead = self.stopped.contains(&peer);
                let on = match (suspected, dead) {
                    (false, true) => true,
                    (false, false) if self.crash.wrong_suspicions > 0 => true,
                    (true, false) => false,
                    _ => continue,
                };
                out.push(Step::Suspect { node: id, peer, on });
            }
        }
        if self.crash.crashes > 0 {
            for node in self
                .nodes
                .iter()
                .filter(|m| !self.stopped.contains(&m.id()))
            {
                let disk = if self.crash.disk_losses > 0 {
                    &[false, true][..]
                } else {
                    &[false]
                };
                for &lose_disk in disk {
                    for (keep_inbound, keep_outbound) in
                        [(true, true), (true, false), (false, true), (false, false)]
                    {
                        out.push(Step::Crash {
                            node: node.id(),
                            keep_inbound,
                            keep_outbound,
                            lose_disk,
                        });
                    }
                }
            }
        }
    }

    /// Crash-restarts still allowed.
    pub fn crashes_left(&self) -> u32 {
        self.crash.crashes
    }

    /// Performs `step`, which must be enabled.
    pub fn apply(&mut self, step: Step) -> StepEffect {
        let mut effect = StepEffect::default();
        let time = self.time;
        let actor = match step {
            Step::Crash { .. } | Step::Stop(_) | Step::Propose => None,
            _ => step.actor(),
        };
        // A node reads the clock at every input (its timer is [`Step::Wake`]).
        if let Some(id) = actor {
            self.node_mut(id).set_now(time);
        }
        if let Some((actor, actions)) = self.input(step, &mut effect) {
            self.carry_out(actor, actions, &mut effect);
            self.journal_whole_again(actor);
        }
        effect
    }

    /// Hands `step` to the node it concerns: that node and the actions it asks for, or `None`
    /// for a step no node takes (a stop for good, the clock's tick).
    fn input(&mut self, step: Step, effect: &mut StepEffect) -> Option<(NodeId, Vec<LockAction>)> {
        let time = self.time;
        let taken = match step {
            Step::Stop(id) => {
                self.stop(id);
                return None;
            }
            Step::Tick => {
                self.time += 1;
                return None;
            }
            Step::Propose => {
                let (epoch, floor) = self.may_propose().expect("an enabled proposal");
                self.propose(epoch, floor)
            }
            Step::Wake(id) => (id, self.node_mut(id).tick(time)),
            Step::Suspect { node, peer, on } => {
                if on && !self.stopped.contains(&peer) {
                    self.crash.wrong_suspicions -= 1;
                }
                (node, self.node_mut(node).set_suspected(peer, on))
            }
            Step::Deliver { from, to } => (to, self.deliver(from, to, effect)),
            Step::Crash {
                node,
                keep_inbound,
                keep_outbound,
                lose_disk,
            } => (
                node,
                self.crash_restart(node, (keep_inbound, keep_outbound), lose_disk),
            ),
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
                let actions = self.node_mut(id).cancel_cs(&lock);
                (id, actions.expect("cancel from a waiting node"))
            }
            Step::Exit(id) => {
                let (lock, _) = self.busy_lock(id).expect("exit from a node in the CS");
                let lock = lock.clone();
                let actions = self.node_mut(id).exit_cs(&lock);
                (id, actions.expect("exit from a node in the CS"))
            }
        };
        Some(taken)
    }

    /// Node `id` dies for good: it makes no more requests and nothing on its way to it arrives.
    fn stop(&mut self, id: NodeId) {
        self.crash.stops -= 1;
        self.stopped.insert(id);
        self.remaining[id.0 as usize] = 0;
        for x in 0..self.nodes.len() as u32 {
            let i = self.link_index(NodeId(x), id);
            Arc::make_mut(&mut self.links[i]).clear();
        }
    }

    /// Hands the first item of the link `from -> to` to `to`: a message, or the Hello of a
    /// (new) incarnation of `from`.
    fn deliver(&mut self, from: NodeId, to: NodeId, effect: &mut StepEffect) -> Vec<LockAction> {
        let i = self.link_index(from, to);
        let item = Arc::make_mut(&mut self.links[i])
            .pop_front()
            .expect("deliver on an empty link");
        match item {
            Item::Msg(lock, msg) => {
                effect.delivered = Some(msg);
                let lock = self.names[lock as usize].clone();
                let mut out = self.catch_up(to, msg.req.epoch);
                out.extend(self.node_mut(to).handle(from, &lock, msg));
                out
            }
            Item::Hello(inc, floor, wants_floor, epoch) => {
                let mut out = self.catch_up(to, epoch);
                let node = self.node_mut(to);
                out.extend(node.peer_epoch(from, epoch));
                out.extend(node.peer_incarnation(from, inc, floor));
                if wants_floor {
                    out.extend(node.peer_wants_floor(from));
                }
                out
            }
        }
    }

    /// Carries out `actor`'s actions in order, as the daemon's driver does: messages onto their
    /// links (or, unless self-messages are queued, handled at once, which may ask for more
    /// actions), entries recorded, votes journaled.
    fn carry_out(&mut self, actor: NodeId, actions: Vec<LockAction>, effect: &mut StepEffect) {
        let mut local: VecDeque<(u8, Message)> = VecDeque::new();
        let mut actions = actions;
        loop {
            for LockAction { lock, action } in actions {
                if let Action::PersistFloor { floor } = action {
                    self.journals[actor.0 as usize].floor = floor;
                    continue;
                }
                let ix = match action {
                    // About the node, not a lock: any lock's link carries it.
                    Action::Send { msg, .. }
                        if matches!(msg.kind, MsgKind::Floor | MsgKind::Config) =>
                    {
                        0
                    }
                    _ => self.lock_index(&lock),
                };
                match action {
                    Action::Send { to, msg } => {
                        effect.sent.push((to, msg));
                        if to == actor && !self.queued_self {
                            local.push_back((ix, msg));
                        } else if self.stopped.contains(&to) {
                            // Lost: nobody will ever read it.
                        } else {
                            let i = self.link_index(actor, to);
                            Arc::make_mut(&mut self.links[i]).push_back(Item::Msg(ix, msg));
                        }
                    }
                    Action::EnterCs { req, token, .. } => {
                        effect.entered = Some(req);
                        effect.entered_lock = Some((ix as usize, token));
                        self.entered(ix as usize, req, token);
                        let voters = self
                            .node(actor)
                            .lock(lock.as_str())
                            .map(|n| n.requester().granted.clone());
                        self.check_entry_config(actor, req, &voters.unwrap_or_default());
                    }
                    Action::Persist { lock, floor } => {
                        let journal = &mut self.journals[actor.0 as usize];
                        journal.votes[ix as usize] = lock;
                        journal.floor = floor;
                    }
                    Action::Log(crate::protocol::LogEvent::Withdrawn { .. }) => {
                        effect.withdrawn += 1
                    }
                    Action::LeaseExpired { .. } | Action::Log(_) | Action::PersistFloor { .. } => {}
                }
            }
            let Some((ix, msg)) = local.pop_front() else {
                break;
            };
            effect.handled_locally.push(msg);
            let lock = self.names[ix as usize].clone();
            actions = self.node_mut(actor).handle(actor, &lock, msg);
        }
    }
}
