//! The driver: one task that feeds transport events, timers, control commands and lock
//! commands into the protocol core, and carries out the core's actions in order
//! ([`super::execute`]).
//!
//! It owns the core, the node log, the CS log and the transport's sending half; nothing else
//! touches them, so there is no shared mutable state. Its fields are grouped by job: the
//! batch being carried out ([`Batch`]), the emulated CS's workload ([`CsWorkload`]), the lock
//! service's [`Sessions`], the node's view of its peers ([`Health`]). Wiring (servers,
//! transport, metrics) is [`super::node`]'s; this module never opens a socket or a file.

use super::command::{Control, LockCommand, LockInfo, LockState};
use super::env::{Flaws, Storage};
use super::journal::Journal;
use super::metrics::Metrics;
use super::node::{Durable, NodeError};
use super::node_log::NodeLog;
use super::sessions::{slot_locks, Ended, Sessions};
use super::settings::NodeSettings;
use super::transport::{Transport, TransportEvent};
use super::workload::CsWorkload;
use crate::node_event::NodeEvent;
use maekawa_core::id::{Incarnation, NodeId, RequestId, Token};
use maekawa_core::member::{LockAction, LockName, Member};
use maekawa_core::protocol::{Message, Phase};
use maekawa_core::quorum::QuorumSystem;
use std::collections::BTreeSet;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the driver listens to.
pub(super) struct Inputs {
    /// Delivered messages, link changes and suspicions from the transport.
    pub(super) events: mpsc::Receiver<TransportEvent>,
    /// `maekawa ctl` commands.
    pub(super) control: mpsc::Receiver<Control>,
    /// Lock-service commands.
    pub(super) locks: mpsc::Receiver<LockCommand>,
    /// Lease renewals and expiries (none without leases).
    pub(super) lease_timer: Option<tokio::time::Interval>,
}

/// The batch of actions being carried out: what [`Driver::flush`] sends, syncs and writes at
/// its end.
#[derive(Default)]
pub(super) struct Batch {
    /// Network messages of the current batch, in the order the core sent them.
    pub(super) outgoing: Vec<(NodeId, LockName, Message)>,
    /// Entries of the current batch: acted on only after the journal sync, since their token
    /// must be on disk before anyone can use it.
    pub(super) entering: Vec<(LockName, RequestId, Vec<NodeId>, u64)>,
    /// Where in `outgoing` the messages start that must wait for the journal sync: those sent
    /// after the batch's first lock change (the GRANT it protects, and everything after it, so
    /// that every link keeps the core's order). The ones before it (a RELEASE on leaving the CS,
    /// say) leave at once.
    pub(super) held_from: Option<usize>,
    /// Where the batch's log lines reach its first lock change ([`NodeLog::mark`]): the lines
    /// after it wait for the journal sync, with the messages they describe.
    pub(super) log_mark: Option<usize>,
}

/// What the node knows of its peers' liveness, for `ctl status` and the health service.
pub(super) struct Health {
    pub(super) quorums: QuorumSystem,
    /// Peers the transport suspects (nothing heard from them for `--suspect-after`).
    pub(super) suspected: BTreeSet<NodeId>,
    /// Whether a quorum of unsuspected nodes exists: what the health service reports.
    reachable: watch::Sender<bool>,
}

/// The one owner of a node's core and logs (see the module).
pub(super) struct Driver {
    pub(super) me: NodeId,
    /// When this process started: the core's clock counts milliseconds from here.
    origin: Instant,
    pub(super) core: Member,
    pub(super) log: NodeLog,
    /// `--log-messages all`: a `send` and a `recv` line per message.
    pub(super) log_messages: bool,
    pub(super) batch: Batch,
    pub(super) journal: Journal,
    /// Makes the journal durable (the operating system's fsync, or a simulator's).
    pub(super) storage: Arc<dyn Storage>,
    /// Defects a simulator injects; all off in real use.
    pub(super) flaws: Flaws,
    /// `--unsafe-no-journal`: votes are never written.
    pub(super) no_journal: bool,
    /// `node-<id>.rejoin` while the journal is not whole (a lost disk): removed once the
    /// floor learned from witnesses is durable.
    pub(super) rejoin_marker: Option<std::path::PathBuf>,
    /// Where the node's files live (`node-<id>.cluster.json` among them).
    pub(super) log_dir: std::path::PathBuf,
    /// The journal floor the transport's Hellos announce.
    pub(super) floor: Arc<AtomicU64>,
    pub(super) transport: Transport,
    /// The emulated CS and its automatic workload.
    pub(super) cs: CsWorkload,
    /// Client sessions of the lock service.
    pub(super) sessions: Sessions,
    pub(super) health: Health,
    /// What a scrape of `--metrics-addr` shows, counted where the log lines are written.
    pub(super) metrics: Metrics,
    /// The cluster configuration and its changes (`None`: explicit quorums, which cannot
    /// change).
    pub(super) membership: Option<super::reconfig::MembershipState>,
    /// The receiving half of the links, told which nodes may open one.
    pub(super) peer_service: Option<super::transport::PeerService>,
}

impl Driver {
    /// A driver for the node `settings` describe, from what [`super::node`] built.
    pub(super) fn new(
        settings: &NodeSettings,
        core: Member,
        log: NodeLog,
        durable: Durable,
        transport: Transport,
        reachable: watch::Sender<bool>,
        metrics: Metrics,
    ) -> Driver {
        let seed = settings.env.seed ^ (u64::from(settings.id.0) << 32);
        Driver {
            me: settings.id,
            // The core's clock: milliseconds since this process started (monotonic; a
            // restarted process starts again at 0, which makes a restored vote wait a full
            // reclaim period).
            origin: Instant::now(),
            core,
            log,
            log_messages: settings.log_messages,
            batch: Batch::default(),
            journal: durable.journal,
            storage: settings.env.storage.clone(),
            flaws: settings.env.flaws,
            no_journal: settings.unsafe_no_journal,
            rejoin_marker: durable
                .lost
                .then(|| crate::logdir::rejoin(&settings.log_dir, settings.id)),
            floor: durable.floor,
            log_dir: settings.log_dir.clone(),
            transport,
            cs: CsWorkload::new(settings, durable.cs_log, seed ^ durable.incarnation),
            sessions: Sessions::new(settings.env.flaws.sessions_lifo),
            health: Health {
                quorums: settings.config.quorums.clone(),
                suspected: BTreeSet::new(),
                reachable,
            },
            metrics,
            membership: None,
            peer_service: None,
        }
    }

    /// The driver with the cluster configuration `membership` (announced by the transport's
    /// Hellos through `epoch`) and the service whose admitted peers follow it.
    pub(super) fn with_membership(
        mut self,
        membership: Option<super::membership::Membership>,
        epoch: Arc<AtomicU64>,
        peer_service: super::transport::PeerService,
    ) -> Driver {
        self.membership = membership
            .map(|m| super::reconfig::MembershipState::new(m, self.log_dir.clone(), epoch));
        self.peer_service = Some(peer_service);
        self
    }

    /// The core's clock: milliseconds since this process started.
    pub(super) fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// Carries out what the restored journal calls for, then plans the first request.
    pub(super) async fn start(&mut self, restore: Vec<LockAction>) -> Result<(), NodeError> {
        self.execute(restore)?;
        self.flush().await?;
        self.schedule_think();
        Ok(())
    }

    /// The event loop, until `shutdown` resolves or the transport goes away; then leaves the
    /// CS and every session, syncs the journal and closes the transport (bounded). Returns the
    /// entry count and whether every sent message was acknowledged.
    pub(super) async fn run(
        mut self,
        mut inputs: Inputs,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(u64, bool), NodeError> {
        tokio::pin!(shutdown);
        let mut control_open = true;
        let mut locks_open = true;
        loop {
            let think = self.cs.think_until;
            let hold = self.cs.hold_until;
            let deadline = self.sessions.next_deadline();
            let wake = tokio::select! {
                _ = tick(&mut inputs.lease_timer) => Wake::Tick,
                _ = &mut shutdown => break,
                ev = inputs.events.recv() => match ev {
                    Some(ev) => Wake::Event(ev),
                    None => break,
                },
                _ = sleep_until_opt(think) => Wake::Think,
                _ = sleep_until_opt(hold) => Wake::Hold,
                cmd = inputs.control.recv(), if control_open => match cmd {
                    Some(cmd) => Wake::Control(cmd),
                    None => { control_open = false; continue }
                },
                cmd = inputs.locks.recv(), if locks_open => match cmd {
                    Some(cmd) => Wake::Lock(cmd),
                    None => { locks_open = false; continue }
                },
                _ = sleep_until_opt(deadline) => Wake::Deadline,
            };
            // The clock first, whatever woke us: a node that was stalled (paused, starved,
            // a slow disk) ends the leases that ran out meanwhile before it acts on anything
            // that arrived meanwhile (a late Fenced, its hold timer).
            let actions = self.core.tick(self.now_ms());
            self.execute(actions)?;
            match wake {
                Wake::Tick => {}
                Wake::Event(ev) => {
                    self.on_event(ev)?;
                    // Whatever else has already arrived joins this batch (one fsync for all).
                    for _ in 0..256 {
                        let Ok(ev) = inputs.events.try_recv() else {
                            break;
                        };
                        self.on_event(ev)?;
                    }
                    self.check_try_once()?;
                }
                Wake::Think => {
                    self.cs.think_until = None;
                    self.request()?;
                }
                // The tick above may have ended the entry already (its lease ran out).
                Wake::Hold if self.cs.hold_until.is_none() => {}
                Wake::Hold => {
                    self.cs.hold_until = None;
                    self.exit()?;
                }
                Wake::Control(cmd) => self.on_control(cmd)?,
                Wake::Lock(cmd) => {
                    self.on_lock_command(cmd)?;
                    for _ in 0..256 {
                        let Ok(cmd) = inputs.locks.try_recv() else {
                            break;
                        };
                        self.on_lock_command(cmd)?;
                    }
                }
                Wake::Deadline => self.on_deadlines()?,
            }
            self.flush().await?;
            self.metrics
                .sample(self.journal.size_bytes(), self.sessions.open());
        }
        self.finish().await
    }

    /// Leaves the CS if inside and every session, syncs the journal and closes the transport.
    async fn finish(mut self) -> Result<(u64, bool), NodeError> {
        self.flush().await?;
        if matches!(self.core.phase(LockName::CS), Phase::InCs(_)) {
            self.exit()?;
            self.flush().await?;
        }
        self.release_every_session()?;
        self.flush().await?;
        self.journal.sync()?;
        let flushed = self.transport.close(Duration::from_secs(2)).await;
        Ok((self.cs.entries, flushed))
    }

    fn on_event(&mut self, ev: TransportEvent) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        match ev {
            TransportEvent::Message {
                from,
                lock,
                msg,
                attachment,
            } => {
                self.log_msg(false, from, self.me, &lock, &msg);
                if msg.kind == maekawa_core::protocol::MsgKind::Config {
                    // Carries the sender's configuration: adopted first if newer.
                    return self.on_config_message(from, &lock, msg, attachment);
                }
                // A witness's Floor may end the wait of a node that lost its journal.
                let heard = self.core.floor_witnesses().map(|h| {
                    let mut h = h.clone();
                    h.insert(from);
                    h
                });
                let actions = self.core.handle(from, &lock, msg);
                if let Some(witnesses) = heard.filter(|_| !self.core.awaits_floor()) {
                    self.log.log(&NodeEvent::FloorLearned {
                        floor: self.core.floor().0,
                        witnesses: witnesses.into_iter().collect(),
                    });
                }
                self.execute(actions)
            }
            TransportEvent::PeerIncarnation {
                peer,
                incarnation,
                floor,
                wants_floor,
                addr,
            } => {
                self.log.log(&NodeEvent::PeerIncarnation {
                    peer,
                    incarnation,
                    token_floor: floor,
                });
                // A new process of the peer listening elsewhere (a new host for its id): reach
                // it there (`maekawa cluster replace` makes the move durable).
                self.follow_peer(peer, addr);
                self.transport.kick(peer);
                let mut actions =
                    self.core
                        .peer_incarnation(peer, Incarnation(incarnation), Token(floor));
                if wants_floor {
                    actions.extend(self.core.peer_wants_floor(peer));
                }
                self.execute(actions)
            }
            // A peer with an older configuration is sent this node's (before anything else
            // on the link).
            TransportEvent::PeerEpoch { peer, epoch } => {
                let actions = self.core.peer_epoch(peer, maekawa_core::id::Epoch(epoch));
                self.execute(actions)
            }
            TransportEvent::PeerUp { peer } => {
                self.metrics.peer_link(true);
                self.log.log(&NodeEvent::PeerUp { peer });
                Ok(())
            }
            TransportEvent::PeerDown { peer, reason } => {
                self.metrics.peer_link(false);
                self.log.log(&NodeEvent::PeerDown { peer, reason });
                Ok(())
            }
            TransportEvent::Suspicion {
                peer,
                suspected,
                silent,
            } => self.on_suspicion(peer, suspected, silent),
        }
    }

    /// The driver's one reaction to suspicion: the transport heard nothing from `peer` for
    /// `--suspect-after` (`suspected`), or hears from a suspected peer again (not `suspected`),
    /// after `silent` without a word. Logged (`suspect`, `unsuspect`), recorded for `maekawa
    /// ctl status` and the health service, and told to the core, which routes waiting
    /// requests around suspects and reclaims their votes when that is safe (DESIGN.md,
    /// "Leases and reclaiming votes").
    fn on_suspicion(
        &mut self,
        peer: NodeId,
        suspected: bool,
        silent: Duration,
    ) -> Result<(), NodeError> {
        let silent_ms = silent.as_millis() as u64;
        if suspected {
            self.health.suspected.insert(peer);
            self.log.log(&NodeEvent::Suspect { peer, silent_ms });
        } else {
            self.health.suspected.remove(&peer);
            self.log.log(&NodeEvent::Unsuspect { peer, silent_ms });
        }
        self.metrics.suspected(self.health.suspected.len());
        let serving = self
            .health
            .quorums
            .choose(self.me, &self.health.suspected)
            .is_some();
        if self.health.reachable.send_replace(serving) != serving {
            self.log.log(&NodeEvent::Health { serving });
        }
        self.core.set_now(self.now_ms());
        let actions = self.core.set_suspected(peer, suspected);
        self.execute(actions)
    }

    /// Withdraws this node's request for `lock`, which waits for votes: RELEASE to its quorum
    /// frees the votes it holds and its place in the voters' queues (a `cancel_cs` line).
    pub(super) fn cancel(&mut self, lock: &LockName) -> Result<(), NodeError> {
        let Phase::Wanting(req) = self.core.phase(lock.as_str()) else {
            return Ok(());
        };
        self.log.log(&NodeEvent::CancelCs {
            req_ts: req.ts.0,
            req_node: req.node,
            lock: Some(lock.clone()),
        });
        self.metrics.cancelled(lock.as_str());
        let actions = self
            .core
            .cancel_cs(lock)
            .expect("a waiting request can be withdrawn, checked above");
        self.execute(actions)
    }

    /// A command of the lock service.
    fn on_lock_command(&mut self, cmd: LockCommand) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        match cmd {
            LockCommand::Acquire {
                session,
                name,
                timeout,
                limit,
                client,
                notices,
            } => {
                let wants = slot_locks(&name, limit);
                self.log.log(&NodeEvent::SessionAcquire {
                    session,
                    lock: LockName::from(name.as_str()),
                    client: client.clone(),
                    timeout_ms: timeout.map(|t| t.as_millis() as u64),
                    limit: limit.filter(|&n| n > 1),
                });
                let queued = self.sessions.acquire(
                    session,
                    wants.clone(),
                    timeout,
                    client,
                    notices,
                    Instant::now(),
                );
                if queued {
                    for lock in &wants {
                        self.request_lock(lock)?;
                    }
                }
            }
            LockCommand::Release { session, explicit } => {
                match self.sessions.end(session, explicit) {
                    Ended::Held { lock, token } => {
                        self.log.log(&NodeEvent::SessionRelease {
                            session,
                            lock: lock.clone(),
                            token,
                            explicit,
                        });
                        self.leave_lock(&lock, token)?;
                    }
                    Ended::Waited { locks } => self.withdraw_abandoned(locks)?,
                    Ended::Nothing => {}
                }
            }
            LockCommand::List(reply) => {
                let _ = reply.send(self.lock_infos());
            }
        }
        self.check_try_once()
    }

    /// Asks the core for `lock` if sessions wait for it and this node neither holds it nor
    /// already asked.
    pub(super) fn request_lock(&mut self, lock: &LockName) -> Result<(), NodeError> {
        if self.sessions.has_waiters(lock.as_str())
            && !self.sessions.is_held(lock.as_str())
            && self.core.phase(lock.as_str()) == Phase::Idle
        {
            let actions = self
                .core
                .request_cs(lock)
                .expect("an idle lock can be requested");
            if let Phase::Wanting(req) = self.core.phase(lock.as_str()) {
                self.log.log(&NodeEvent::RequestCs {
                    req_ts: req.ts.0,
                    req_node: req.node,
                    lock: Some(lock.clone()),
                });
            }
            self.metrics.requested(lock);
            self.execute(actions)?;
        }
        Ok(())
    }

    /// Leaves a client lock (its holder is done, or nobody was left to take it), then asks
    /// again for the sessions still waiting.
    fn leave_lock(&mut self, lock: &LockName, token: u64) -> Result<(), NodeError> {
        let Phase::InCs(req) = self.core.phase(lock.as_str()) else {
            return Ok(());
        };
        self.log.log(&NodeEvent::ExitCs {
            entry: None,
            lock: Some(lock.clone()),
            req_ts: req.ts.0,
            req_node: req.node,
            token: Some(token),
        });
        let actions = self.core.exit_cs(lock).expect("in the CS, checked above");
        self.execute(actions)?;
        self.request_lock(lock)
    }

    /// Leaves every entry nobody was left to take.
    pub(super) fn leave_orphans(&mut self) -> Result<(), NodeError> {
        for (lock, token) in self.sessions.take_orphans() {
            self.leave_lock(&lock, token)?;
        }
        Ok(())
    }

    /// Waiting sessions whose time is up give up.
    fn on_deadlines(&mut self) -> Result<(), NodeError> {
        let gave_up = self.sessions.expire(Instant::now());
        self.withdraw_abandoned(gave_up)
    }

    /// Try-once sessions give up as soon as a voter said FAILED to their lock's request.
    fn check_try_once(&mut self) -> Result<(), NodeError> {
        if !self.sessions.has_try_once() {
            return Ok(());
        }
        let core = &self.core;
        let gave_up = self.sessions.give_up_try_once(
            |lock| {
                core.lock(lock)
                    .is_some_and(|n| !n.requester().failed.is_empty())
            },
            Instant::now(),
        );
        self.withdraw_abandoned(gave_up)
    }

    /// Sessions waiting for `locks` gave up. A lock no other session here waits for (or holds)
    /// has a request nobody will use: withdraw it while it still waits for votes, so its votes
    /// go on now rather than after a pointless entry. An entry that already happened (the
    /// request won the race) is left at once as an orphan instead ([`Driver::flush`]).
    fn withdraw_abandoned(
        &mut self,
        locks: impl IntoIterator<Item = LockName>,
    ) -> Result<(), NodeError> {
        for lock in locks {
            if !self.sessions.has_waiters(lock.as_str()) && !self.sessions.is_held(lock.as_str()) {
                self.cancel(&lock)?;
            }
        }
        Ok(())
    }

    /// Locks whose sessions changed under the driver (a holder's lease ran out, a semaphore
    /// session took another slot): ask again for those sessions still wait for, withdraw the
    /// requests nobody waits for any more.
    pub(super) fn reconsider(
        &mut self,
        locks: impl IntoIterator<Item = LockName>,
    ) -> Result<(), NodeError> {
        for lock in locks {
            if self.sessions.has_waiters(lock.as_str()) {
                self.request_lock(&lock)?;
            } else {
                self.withdraw_abandoned([lock])?;
            }
        }
        Ok(())
    }

    /// At a stop: every session ends (its client sees the stream end) and held locks are left.
    fn release_every_session(&mut self) -> Result<(), NodeError> {
        for (lock, token) in self.sessions.end_all() {
            self.leave_lock(&lock, token)?;
        }
        Ok(())
    }

    /// Every lock in use at this node, for `maekawa locks`.
    fn lock_infos(&self) -> Vec<LockInfo> {
        let mut names: BTreeSet<&str> = self.sessions.lock_names().map(|l| l.as_str()).collect();
        names.extend(
            self.core
                .locks()
                .map(|(l, _)| l.as_str())
                .filter(|l| *l != LockName::CS),
        );
        names
            .into_iter()
            .map(|name| {
                let mut info = self.sessions.describe(name);
                if let Some(node) = self.core.lock(name) {
                    match node.phase() {
                        Phase::Wanting(r) => {
                            info.request = Some(r);
                            if info.state == LockState::Voting {
                                info.state = LockState::Acquiring;
                            }
                        }
                        Phase::InCs(r) => info.request = Some(r),
                        Phase::Idle => {}
                    }
                    info.vote = node.voter().lock;
                    info.queue = node.voter().queue.iter().copied().collect();
                }
                info
            })
            .collect()
    }
}

/// What woke the driver's loop.
enum Wake {
    /// The lease timer.
    Tick,
    /// A transport event.
    Event(TransportEvent),
    /// The workload's think time is over: request the CS.
    Think,
    /// The workload's hold time is over: leave the CS.
    Hold,
    /// A `maekawa ctl` command.
    Control(Control),
    /// A lock-service command.
    Lock(LockCommand),
    /// A waiting session's patience ran out.
    Deadline,
}

/// The next lease tick, or never without leases.
async fn tick(timer: &mut Option<tokio::time::Interval>) {
    match timer {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// A deadline already reached is ready at once: tokio's timer wheel only fires on its next
/// millisecond tick, which made `--hold-ms 0` hold the CS for about 1 ms.
pub(super) async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) if t <= Instant::now() => {}
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
