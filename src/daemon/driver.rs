//! The driver: one task that feeds transport events, timers and control commands into the
//! protocol core and carries out the core's actions in order.
//!
//! It owns the core, the CS log and the transport's sending half; nothing else touches them,
//! so there is no shared mutable state. Self-messages are handled at once, from a local queue,
//! after the batch of actions that produced them (the same order `cluster` checks). Every
//! message sent and received is logged here as a JSON line (see README.md, "Logs").

use super::command::{Control, LockCommand, LockInfo, Status};
use super::control::ControlService;
use super::cslog::CsLog;
use super::health;
use super::incarnation::{next_incarnation, IncarnationError};
use super::journal::Journal;
use super::limits;
use super::lock_service::{LockService, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use super::metrics::Metrics;
use super::node_log;
use super::sessions::{Ended, Sessions};
use super::settings::{NodeSettings, Workload};
use super::transport::{
    Connector, Liveness, PeerService, Transport, TransportConfig, TransportEvent,
};
use crate::tls::Security;
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::member::{LockAction, LockName, Member};
use maekawa_core::protocol::{Action, LogEvent, Message, MsgKind, Options, Phase};
use maekawa_core::rng::SplitMix64;
use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::info;

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The CS log could not be written.
    #[error(transparent)]
    CsLog(#[from] crate::daemon::cslog::CsLogError),
    /// The incarnation file could not be read or written.
    #[error(transparent)]
    Incarnation(#[from] IncarnationError),
    /// The gRPC server failed.
    #[error("serving peers failed: {0}")]
    Serve(String),
    /// Another process runs this node id.
    #[error(transparent)]
    Locked(#[from] crate::daemon::proclock::ProcessLockError),
    /// The voter journal cannot be trusted or written.
    #[error(transparent)]
    Journal(#[from] crate::daemon::journal::JournalError),
    /// The node's certificate or key cannot be used.
    #[error("TLS: {0}; make the certificates again with `maekawa certs init`")]
    Tls(String),
    /// The `--metrics-addr` address cannot be listened on.
    #[error("--metrics-addr {addr}: cannot listen: {source}; is another process using it? pick another HOST:PORT")]
    Metrics {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs one node until `shutdown` resolves: serves peers and `maekawa ctl` on `incoming`, and
/// talks to peers through `connector`. The caller must hold the node's
/// [`crate::daemon::proclock::ProcessLock`] (one process per node id) for as long as this runs. On
/// shutdown it leaves the CS if inside, waits (bounded) for its last messages to be
/// acknowledged, and returns its entry count.
pub async fn run<I, IO, IE>(
    settings: NodeSettings,
    incoming: I,
    connector: Connector,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, NodeError>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let me = settings.id;
    let incarnation = next_incarnation(&settings.log_dir, me)?;
    let (journal, restored) = Journal::open(&settings.log_dir, me)?;
    let restored = if settings.unsafe_no_journal {
        Default::default()
    } else {
        restored
    };
    let journaled_lock = restored.cs();
    let mut cs_log = CsLog::open(&settings.log_dir)?;
    // The CS log's start line comes before any peer is contacted: a CS left open by a killed
    // predecessor ends here.
    cs_log.start(me, incarnation)?;
    let quorum = settings.config.quorums.quorum(me).to_vec();
    let addr = settings
        .config
        .node(me)
        .map(|n| n.addr.clone())
        .unwrap_or_default();
    info!(
        event = "start",
        incarnation,
        addr = addr.as_str(),
        quorum = %json_ids(&quorum),
        pid = std::process::id(),
        workload = ?settings.workload,
        journaled_lock = %journaled_lock.map_or("none".to_string(), |r| r.to_string()),
        journaled_votes = restored.votes.len(),
        token_floor = restored.floor,
        tls = settings.security.is_tls(),
        log_messages = if settings.log_messages { "all" } else { "none" },
    );
    if let Some(why) = &settings.plaintext_warning {
        tracing::warn!(event = "plaintext", reason = why.as_str());
    }

    let peers: Vec<(NodeId, String)> = settings
        .config
        .nodes
        .iter()
        .filter(|n| n.id != me)
        .map(|n| (n.id, n.addr.clone()))
        .collect();
    let floor_cell = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(restored.floor));
    let tcfg = TransportConfig {
        me,
        incarnation,
        floor: floor_cell.clone(),
        liveness: Liveness::new(peers.iter().map(|(p, _)| *p), settings.suspect_after),
        peers,
        gate: settings.security.gate(),
    };
    let (events_tx, mut events) = mpsc::channel::<TransportEvent>(4096);
    let service = PeerService::new(&tcfg, events_tx.clone());
    let (control_tx, mut control) = mpsc::channel::<Control>(16);
    let (lock_tx, mut lock_commands) = mpsc::channel::<LockCommand>(1024);
    let (stop_serving, stop_serving_rx) = oneshot::channel::<()>();
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(limits::MAX_STREAMS_PER_CONNECTION)
        .http2_max_header_list_size(limits::MAX_HEADER_BYTES);
    if let Security::Tls(creds) = &settings.security {
        builder = builder
            .tls_config(creds.server())
            .map_err(|e| NodeError::Tls(format!("{}: {e}", creds.cert_path.display())))?;
    }
    let gate = settings.security.gate();
    // grpc.health.v1: SERVING while a quorum of live (unsuspected) nodes exists.
    let (reachable, health_service) = health::serve();
    let server = tokio::spawn(
        builder
            .add_service(
                service
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .add_service(health_service)
            .add_service(
                ControlService::new(control_tx, gate)
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .add_service(
                LockService::new(me.0, lock_tx, gate)
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming_shutdown(
                limits::limit_connections(incoming, settings.max_connections),
                async {
                    let _ = stop_serving_rx.await;
                },
            ),
    );
    let metrics = Metrics::new();
    let metrics_server = match &settings.metrics_addr {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| NodeError::Metrics {
                    addr: addr.clone(),
                    source,
                })?;
            Some(tokio::spawn(super::metrics::serve(
                listener,
                metrics.registry(),
            )))
        }
        None => None,
    };
    let transport = Transport::start(&tcfg, connector, events_tx);

    let seed = u64::from(std::process::id()) ^ (u64::from(me.0) << 32) ^ incarnation;
    let votes: Vec<(LockName, RequestId)> = restored
        .votes
        .iter()
        .map(|(name, req)| (LockName::from(name.as_str()), *req))
        .collect();
    let options = Options {
        leases: settings.lease_ms > 0,
        lease: settings.lease_ms,
        reclaim_after: settings.reclaim_ms,
        ..Options::default()
    };
    // The core's clock: milliseconds since this process started (monotonic; a restarted
    // process starts again at 0, which makes a restored vote wait a full reclaim period).
    let origin = Instant::now();
    let (core, restore_actions) = Member::restore_in(
        me,
        std::sync::Arc::new(settings.config.quorums.clone()),
        incarnation,
        &votes,
        restored.floor,
        options,
        0,
    );
    // The lease timer: a tenth of the lease is plenty for renewals at half term.
    let mut lease_timer = tokio::time::interval(Duration::from_millis(
        (settings.lease_ms / 10).clamp(20, 1000),
    ));
    lease_timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut driver = Driver {
        me,
        origin,
        cs: LockName::from(LockName::CS),
        core,
        journal,
        outgoing: Vec::new(),
        entering: Vec::new(),
        sessions: Sessions::default(),
        floor_cell,
        held_from: None,
        log_mark: None,
        transport,
        cs_log,
        rng: SplitMix64::new(seed),
        settings,
        entries: 0,
        requested_at: None,
        hold_until: None,
        think_until: None,
        suspected: BTreeSet::new(),
        reachable,
        metrics,
    };
    driver.execute(restore_actions)?;
    driver.flush().await?;
    driver.schedule_think();

    tokio::pin!(shutdown);
    let mut control_open = true;
    let mut locks_open = true;
    // Each batch's lines are written together by `flush` (see `node_log`). If this returns
    // early with an error (or a panic unwinds it), the lines still held describe messages that
    // never left: `unsent` throws them away rather than let the log guard write them.
    node_log::hold_lines();
    let unsent = DiscardHeldLines;
    loop {
        let think = driver.think_until;
        let hold = driver.hold_until;
        let deadline = driver.sessions.next_deadline();
        let leases = driver.settings.lease_ms > 0;
        tokio::select! {
            _ = lease_timer.tick(), if leases => {
                let now = driver.now_ms();
                let actions = driver.core.tick(now);
                driver.execute(actions)?;
            }
            _ = &mut shutdown => break,
            ev = events.recv() => match ev {
                Some(ev) => {
                    driver.on_event(ev)?;
                    // Whatever else has already arrived joins this batch (one fsync for all).
                    for _ in 0..256 {
                        let Ok(ev) = events.try_recv() else { break };
                        driver.on_event(ev)?;
                    }
                    driver.check_try_once()?;
                }
                None => break,
            },
            _ = sleep_until_opt(think) => {
                driver.think_until = None;
                driver.request()?;
            }
            _ = sleep_until_opt(hold) => {
                driver.hold_until = None;
                driver.exit()?;
            }
            cmd = control.recv(), if control_open => match cmd {
                Some(cmd) => driver.on_control(cmd)?,
                None => control_open = false,
            },
            cmd = lock_commands.recv(), if locks_open => match cmd {
                Some(cmd) => {
                    driver.on_lock_command(cmd)?;
                    for _ in 0..256 {
                        let Ok(cmd) = lock_commands.try_recv() else { break };
                        driver.on_lock_command(cmd)?;
                    }
                }
                None => locks_open = false,
            },
            _ = sleep_until_opt(deadline) => driver.on_deadlines()?,
        }
        driver.flush().await?;
        driver
            .metrics
            .sample(driver.journal.size_bytes(), driver.sessions.open());
    }
    driver.flush().await?;
    if matches!(driver.core.phase(LockName::CS), Phase::InCs(_)) {
        driver.exit()?;
        driver.flush().await?;
    }
    driver.release_every_session()?;
    driver.flush().await?;
    driver.journal.sync()?;
    let entries = driver.entries;
    let flushed = driver.transport.close(Duration::from_secs(2)).await;
    // Peers' streams into this node never end by themselves: stop serving without waiting.
    let _ = stop_serving.send(());
    server.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_millis(100), server).await {
        return Err(NodeError::Serve(e.to_string()));
    }
    info!(event = "stop", entries, flushed);
    std::mem::forget(unsent);
    node_log::write_held_lines();
    Ok(entries)
}

/// Throws away the held log lines when dropped: see its use in [`run`].
struct DiscardHeldLines;

impl Drop for DiscardHeldLines {
    fn drop(&mut self) {
        node_log::discard_held_lines();
    }
}

/// A deadline already reached is ready at once: tokio's timer wheel only fires on its next
/// millisecond tick, which made `--hold-ms 0` hold the CS for about 1 ms.
async fn sleep_until_opt(t: Option<Instant>) {
    match t {
        Some(t) if t <= Instant::now() => {}
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// `[0,1,2]`: id lists are logged as JSON arrays (the log formatter keeps them arrays).
pub fn json_ids(ids: &[NodeId]) -> String {
    let parts: Vec<String> = ids.iter().map(|i| i.0.to_string()).collect();
    format!("[{}]", parts.join(","))
}

struct Driver {
    me: NodeId,
    /// The lock of the emulated CS (workloads, `ctl`, `critical_section.log`).
    cs: LockName,
    core: Member,
    journal: Journal,
    /// Network messages of the current batch, in the order the core sent them.
    outgoing: Vec<(NodeId, LockName, Message)>,
    /// When this process started: the core's clock counts milliseconds from here.
    origin: Instant,
    /// Entries of the current batch: acted on only after the journal sync, since their token
    /// must be on disk before anyone can use it.
    entering: Vec<(LockName, RequestId, Vec<NodeId>, u64)>,
    /// Client sessions of the lock service.
    sessions: Sessions,
    /// The journal floor the transport's Hellos announce.
    floor_cell: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Where in `outgoing` the messages start that must wait for the journal sync: those sent
    /// after the batch's first lock change (the GRANT it protects, and everything after it, so
    /// that every link keeps the core's order). The ones before it (a RELEASE on leaving the CS,
    /// say) leave at once.
    held_from: Option<usize>,
    /// Where the batch's log lines reach its first lock change ([`node_log::held_mark`]): the
    /// lines after it wait for the journal sync, with the messages they describe.
    log_mark: Option<usize>,
    transport: Transport,
    cs_log: CsLog,
    rng: SplitMix64,
    settings: NodeSettings,
    entries: u64,
    requested_at: Option<Instant>,
    hold_until: Option<Instant>,
    think_until: Option<Instant>,
    /// Peers the transport suspects (nothing heard from them for `--suspect-after`).
    suspected: BTreeSet<NodeId>,
    /// Whether a quorum of unsuspected nodes exists: what the health service reports.
    reachable: tokio::sync::watch::Sender<bool>,
    /// What a scrape of `--metrics-addr` shows, counted where the log lines are written.
    metrics: Metrics,
}

impl Driver {
    /// The core's clock: milliseconds since this process started.
    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    /// The holder's lease ran out before it left (it was paused, or could not renew): it is
    /// out. The emulated CS writes its exit line with the lease's end; a named lock's holding
    /// session is told it lost the lock.
    fn lease_expired(
        &mut self,
        lock: LockName,
        req: RequestId,
        token: u64,
        ended_at: u64,
    ) -> Result<(), NodeError> {
        let late_ms = self.now_ms().saturating_sub(ended_at);
        let lease_end = std::time::SystemTime::now() - Duration::from_millis(late_ms);
        if lock == self.cs {
            self.cs_log
                .exit_lease_expired(self.me, self.entries, lease_end)?;
            self.hold_until = None;
            self.schedule_think();
        } else {
            self.sessions.lost(&lock);
        }
        self.metrics.lease_expired();
        info!(
            event = "lease_expired",
            lock = lock.as_str(),
            entry = self.entries,
            req_ts = req.ts,
            req_node = req.node.0,
            token,
            late_ms
        );
        Ok(())
    }

    fn on_event(&mut self, ev: TransportEvent) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        match ev {
            TransportEvent::Message { from, lock, msg } => {
                self.log_msg("recv", from, self.me, &lock, &msg);
                let actions = self.core.handle(from, &lock, msg);
                self.execute(actions)
            }
            TransportEvent::PeerIncarnation {
                peer,
                incarnation,
                floor,
            } => {
                info!(
                    event = "peer_incarnation",
                    peer = peer.0,
                    incarnation,
                    token_floor = floor
                );
                self.transport.kick(peer);
                let actions = self.core.peer_incarnation(peer, incarnation, floor);
                self.execute(actions)
            }
            TransportEvent::PeerUp { peer } => {
                self.metrics.peer_link(true);
                info!(event = "peer_up", peer = peer.0);
                Ok(())
            }
            TransportEvent::PeerDown { peer, reason } => {
                self.metrics.peer_link(false);
                info!(event = "peer_down", peer = peer.0, reason = reason.as_str());
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
    /// after `silent` without a word. Logged (`suspect`, `unsuspect`) and recorded for
    /// `maekawa ctl status`; the protocol does not hear of it yet (PROTOCOL.md §6: that is where
    /// the core's `Member::suspect`/`unsuspect` will be called, with their actions executed).
    fn on_suspicion(
        &mut self,
        peer: NodeId,
        suspected: bool,
        silent: Duration,
    ) -> Result<(), NodeError> {
        let silent_ms = silent.as_millis() as u64;
        if suspected {
            self.suspected.insert(peer);
            info!(event = "suspect", peer = peer.0, silent_ms);
        } else {
            self.suspected.remove(&peer);
            info!(event = "unsuspect", peer = peer.0, silent_ms);
        }
        self.metrics.suspected(self.suspected.len());
        let serving = self
            .settings
            .config
            .quorums
            .choose(self.me, &self.suspected)
            .is_some();
        if self.reachable.send_replace(serving) != serving {
            info!(event = "health", serving);
        }
        // The core routes waiting requests around suspects and reclaims their votes when
        // that is safe (DESIGN.md, "Leases and reclaiming votes").
        self.core.set_now(self.now_ms());
        let actions = self.core.set_suspected(peer, suspected);
        self.execute(actions)
    }

    /// Ends a batch: the messages sent before its first lock change leave, then one fsync
    /// covers every lock it changed, then the rest leave, in order. A record nothing waits for
    /// (an unlock with no GRANT after it) is left to the page cache, which outlives a `kill -9`;
    /// the next sync covers it, and losing it to a power cut only brings back an older, stricter
    /// lock.
    ///
    /// The batch's log lines are in the core's order (so a node's `send` lines follow its
    /// Lamport clock), and each is in the file before the message it describes is on the wire:
    /// nothing leaves before this task yields (one thread runs the link tasks too). The lines
    /// from the first lock change on wait for the fsync with the messages they describe, and
    /// are stamped when they are written: a `send` line's time is when its message left.
    async fn flush(&mut self) -> Result<(), NodeError> {
        self.floor_cell.store(
            self.core.journal_floor(),
            std::sync::atomic::Ordering::Relaxed,
        );
        let mut outgoing = std::mem::take(&mut self.outgoing);
        let held = outgoing.split_off(self.held_from.take().unwrap_or(outgoing.len()));
        let mark = self.log_mark.take();
        // An entry waits for the sync only when its batch wrote a record (a new block of
        // tokens); within the reserved block it needs none.
        let sync_first = !held.is_empty() || (mark.is_some() && !self.entering.is_empty());
        if !sync_first {
            self.act_on_entries()?;
            node_log::write_held_lines();
            self.send_all(outgoing);
        } else {
            node_log::write_held_lines_before(mark.unwrap_or(0));
            self.send_all(outgoing);
            // On a blocking thread: meanwhile this runtime's link tasks write out what just
            // left (the RELEASE of a node leaving the CS), instead of waiting for the disk.
            if let Some(job) = self.journal.sync_job()? {
                let started = std::time::Instant::now();
                tokio::task::spawn_blocking(move || job.run())
                    .await
                    .expect("the journal sync thread does not panic")?;
                self.metrics.fsync(started.elapsed());
            }
            self.act_on_entries()?;
            node_log::write_held_lines_restamped();
            self.send_all(held);
        }
        // An entry with nobody left to hand it to (its sessions gave up or went away) is
        // left at once; that batch flushes too.
        if self.sessions.has_orphans() {
            self.leave_orphans()?;
            Box::pin(self.flush()).await?;
        }
        Ok(())
    }

    /// Acts on the batch's entries, whose tokens are covered by a reservation on disk.
    fn act_on_entries(&mut self) -> Result<(), NodeError> {
        for (lock, req, votes, token) in std::mem::take(&mut self.entering) {
            self.enter(lock, req, &votes, token)?;
        }
        Ok(())
    }

    /// Hands `msgs` to their links; their `send` lines were logged when the core sent them.
    fn send_all(&mut self, msgs: Vec<(NodeId, LockName, Message)>) {
        for (to, lock, msg) in msgs {
            self.transport.send(to, lock, msg);
        }
    }

    /// Answers a command from `maekawa ctl` (through the control service).
    fn on_control(&mut self, cmd: Control) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        let me = self.me;
        match cmd {
            Control::Request(reply) => {
                let answer = match self.core.phase(LockName::CS) {
                    Phase::Idle => {
                        self.think_until = None;
                        self.request()?;
                        match self.core.phase(LockName::CS) {
                            Phase::Wanting(r) => Ok(format!("node {me} requested the CS with {r}")),
                            Phase::InCs(r) => {
                                Ok(format!("node {me} requested the CS with {r} and entered"))
                            }
                            Phase::Idle => Err(format!("node {me} could not request")),
                        }
                    }
                    Phase::Wanting(r) => Err(format!(
                        "node {me} already waits for the CS with request {r}"
                    )),
                    Phase::InCs(r) => {
                        Err(format!("node {me} is already in the CS with request {r}"))
                    }
                };
                let _ = reply.send(answer);
            }
            Control::Release(reply) => {
                let answer = match self.core.phase(LockName::CS) {
                    Phase::InCs(r) => {
                        self.exit()?;
                        Ok(format!("node {me} left the CS (request {r})"))
                    }
                    Phase::Wanting(r) => Err(format!(
                        "node {me} is not in the CS: it still waits for votes from {} for request {r}; to withdraw the request, run `maekawa ctl --node {me} cancel`",
                        json_ids(&self.status().missing)
                    )),
                    Phase::Idle => Err(format!("node {me} is not in the CS (it has no request)")),
                };
                let _ = reply.send(answer);
            }
            Control::Cancel(reply) => {
                let answer = match self.core.phase(LockName::CS) {
                    Phase::Wanting(r) => {
                        let cs = self.cs.clone();
                        self.cancel(&cs)?;
                        self.requested_at = None;
                        self.schedule_think();
                        Ok(format!(
                            "node {me} withdrew its request {r}: it gave back its votes and will not enter"
                        ))
                    }
                    Phase::InCs(r) => Err(format!(
                        "node {me} has no request waiting: it is in the CS with request {r}; to leave, run `maekawa ctl --node {me} release`"
                    )),
                    Phase::Idle => Err(format!(
                        "node {me} has no request waiting for votes (it is idle): nothing to cancel"
                    )),
                };
                let _ = reply.send(answer);
            }
            Control::Status(reply) => {
                let _ = reply.send(self.status());
            }
        }
        Ok(())
    }

    fn status(&self) -> Status {
        let fresh;
        let cs = match self.core.lock(LockName::CS) {
            Some(node) => node,
            None => {
                fresh = maekawa_core::protocol::Node::new(self.me, self.core.quorum());
                fresh.view()
            }
        };
        let view = cs.requester();
        let waiting = !matches!(cs.phase(), Phase::Idle);
        Status {
            node: self.me,
            incarnation: self.core.incarnation(),
            phase: cs.phase(),
            lamport: self.core.clock(),
            granted: view.granted.iter().copied().collect(),
            missing: if waiting {
                self.core
                    .quorum()
                    .iter()
                    .filter(|v| !view.granted.contains(v))
                    .copied()
                    .collect()
            } else {
                Vec::new()
            },
            failed: view.failed.iter().copied().collect(),
            yielded: view.yielded.iter().copied().collect(),
            lock: cs.voter().lock,
            queue: cs.voter().queue.iter().copied().collect(),
            entries: self.entries,
            workload: self.settings.workload,
            suspected: self.suspected.iter().copied().collect(),
        }
    }

    fn wants_more(&self) -> bool {
        self.settings.workload == Workload::Auto
            && self
                .settings
                .max_entries
                .is_none_or(|max| self.entries < max)
    }

    fn schedule_think(&mut self) {
        if self.wants_more() {
            self.think_until = Some(Instant::now() + self.settings.think.draw(&mut self.rng));
        }
    }

    fn request(&mut self) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        let cs = self.cs.clone();
        match self.core.request_cs(&cs) {
            Ok(actions) => {
                if let Phase::Wanting(req) = self.core.phase(LockName::CS) {
                    info!(event = "request_cs", req_ts = req.ts, req_node = req.node.0);
                }
                self.metrics.requested(&cs);
                self.requested_at = Some(Instant::now());
                self.execute(actions)
            }
            Err(e) => {
                info!(event = "refused", what = "request", why = %e);
                Ok(())
            }
        }
    }

    fn exit(&mut self) -> Result<(), NodeError> {
        self.core.set_now(self.now_ms());
        let Phase::InCs(req) = self.core.phase(LockName::CS) else {
            info!(
                event = "refused",
                what = "release",
                why = "not in the critical section"
            );
            return Ok(());
        };
        // The exit line is written before RELEASE leaves (PROTOCOL.md §4).
        self.cs_log.exit(self.me, self.entries)?;
        info!(
            event = "exit_cs",
            entry = self.entries,
            req_ts = req.ts,
            req_node = req.node.0,
            lock = LockName::CS
        );
        let cs = self.cs.clone();
        let actions = self.core.exit_cs(&cs).expect("in the CS, checked above");
        self.hold_until = None;
        self.execute(actions)?;
        self.schedule_think();
        Ok(())
    }

    /// Withdraws this node's request for `lock`, which waits for votes: RELEASE to its quorum
    /// frees the votes it holds and its place in the voters' queues (a `cancel_cs` line).
    fn cancel(&mut self, lock: &LockName) -> Result<(), NodeError> {
        let Phase::Wanting(req) = self.core.phase(lock.as_str()) else {
            return Ok(());
        };
        info!(
            event = "cancel_cs",
            req_ts = req.ts,
            req_node = req.node.0,
            lock = lock.as_str()
        );
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
                client,
                notices,
            } => {
                let lock = LockName::from(name.as_str());
                info!(
                    event = "session_acquire",
                    session,
                    lock = lock.as_str(),
                    client = client.as_str(),
                    timeout_ms = timeout.map(|t| t.as_millis() as u64)
                );
                let queued = self.sessions.acquire(
                    session,
                    lock.clone(),
                    timeout,
                    client,
                    notices,
                    Instant::now(),
                );
                if queued {
                    self.request_lock(&lock)?;
                }
            }
            LockCommand::Release { session, explicit } => {
                match self.sessions.end(session, explicit) {
                    Ended::Held { lock, token } => {
                        info!(
                            event = "session_release",
                            session,
                            lock = lock.as_str(),
                            token,
                            explicit
                        );
                        self.leave_lock(&lock, token)?;
                    }
                    Ended::Waited { lock } => self.withdraw_abandoned([lock])?,
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
    fn request_lock(&mut self, lock: &LockName) -> Result<(), NodeError> {
        if self.sessions.has_waiters(lock.as_str())
            && !self.sessions.is_held(lock.as_str())
            && self.core.phase(lock.as_str()) == Phase::Idle
        {
            let actions = self
                .core
                .request_cs(lock)
                .expect("an idle lock can be requested");
            if let Phase::Wanting(req) = self.core.phase(lock.as_str()) {
                info!(
                    event = "request_cs",
                    req_ts = req.ts,
                    req_node = req.node.0,
                    lock = lock.as_str()
                );
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
        info!(
            event = "exit_cs",
            lock = lock.as_str(),
            req_ts = req.ts,
            req_node = req.node.0,
            token
        );
        let actions = self.core.exit_cs(lock).expect("in the CS, checked above");
        self.execute(actions)?;
        self.request_lock(lock)
    }

    /// Leaves every entry nobody was left to take.
    fn leave_orphans(&mut self) -> Result<(), NodeError> {
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

    /// At a stop: every session ends (its client sees the stream end) and held locks are left.
    fn release_every_session(&mut self) -> Result<(), NodeError> {
        for (lock, token) in self.sessions.end_all() {
            self.leave_lock(&lock, token)?;
        }
        Ok(())
    }

    /// Every lock in use at this node, for `maekawa locks`.
    fn lock_infos(&self) -> Vec<LockInfo> {
        let mut names: std::collections::BTreeSet<&str> =
            self.sessions.lock_names().map(|l| l.as_str()).collect();
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
                            if info.state == "voting" {
                                info.state = "acquiring";
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

    fn log_msg(&self, dir: &'static str, from: NodeId, to: NodeId, lock: &LockName, msg: &Message) {
        self.metrics.message(dir == "send", msg.kind);
        if !self.settings.log_messages {
            return; // --log-messages none
        }
        if msg.kind == MsgKind::Sync {
            info!(
                event = dir,
                msg = msg.kind.name(),
                from = from.0,
                to = to.0,
                lamport = msg.lamport,
                req_ts = msg.req.ts,
                req_node = msg.req.node.0,
                req_inc = msg.req.inc,
                lock = lock.as_str(),
                token = msg.token,
                holds_grant = msg.holds_grant,
                to_inc = msg.to_inc
            );
        } else {
            info!(
                event = dir,
                msg = msg.kind.name(),
                from = from.0,
                to = to.0,
                lamport = msg.lamport,
                req_ts = msg.req.ts,
                req_node = msg.req.node.0,
                req_inc = msg.req.inc,
                lock = lock.as_str(),
                token = msg.token
            );
        }
    }

    /// Carries out actions in order; self-messages are handled after the batch that sent them.
    fn execute(&mut self, actions: Vec<LockAction>) -> Result<(), NodeError> {
        let mut local: VecDeque<(LockName, Message)> = VecDeque::new();
        let mut batch = actions;
        loop {
            for LockAction { lock, action } in batch {
                match action {
                    Action::Send { to, msg } => {
                        // Logged now, in the core's order; written by `flush` before it leaves.
                        self.log_msg("send", self.me, to, &lock, &msg);
                        if to == self.me {
                            local.push_back((lock, msg));
                        } else {
                            self.outgoing.push((to, lock, msg));
                        }
                    }
                    Action::EnterCs { req, votes, token } => {
                        self.entering.push((lock, req, votes, token));
                    }
                    Action::Persist { lock: vote, floor } => {
                        // Written now, made durable by `flush` before any message of this
                        // batch (the GRANT it protects among them) leaves, and before an
                        // entry of this batch is acted on.
                        if !self.settings.unsafe_no_journal {
                            self.journal.write_vote(lock.as_str(), vote, floor)?;
                            self.held_from.get_or_insert(self.outgoing.len());
                            self.log_mark.get_or_insert_with(node_log::held_mark);
                        }
                    }
                    Action::Log(LogEvent::Revote { what, req, why }) => {
                        self.metrics.revote(what);
                        info!(
                            event = "revote",
                            what,
                            req_ts = req.ts,
                            req_node = req.node.0,
                            req_inc = req.inc,
                            lock = lock.as_str(),
                            why
                        )
                    }
                    Action::Log(LogEvent::Ignored { from, msg, why }) => info!(
                        event = "ignored",
                        msg = msg.kind.name(),
                        from = from.0,
                        req_ts = msg.req.ts,
                        req_node = msg.req.node.0,
                        lock = lock.as_str(),
                        why
                    ),
                    Action::LeaseExpired {
                        req,
                        token,
                        ended_at,
                    } => self.lease_expired(lock, req, token, ended_at)?,
                    Action::Log(LogEvent::QuorumSwitch { req, from, to }) => info!(
                        event = "quorum_switch",
                        req_ts = req.ts,
                        req_node = req.node.0,
                        req_inc = req.inc,
                        lock = lock.as_str(),
                        from_quorum = %json_ids(&from),
                        to_quorum = %json_ids(&to)
                    ),
                    Action::Log(LogEvent::InquiryDeferred { voter, req }) => info!(
                        event = "inquiry_deferred",
                        voter = voter.0,
                        req_ts = req.ts,
                        req_node = req.node.0,
                        lock = lock.as_str()
                    ),
                }
            }
            let Some((lock, msg)) = local.pop_front() else {
                return Ok(());
            };
            self.log_msg("recv", self.me, self.me, &lock, &msg);
            batch = self.core.handle(self.me, &lock, msg);
        }
    }

    /// Acts on an entry whose token is on disk: the emulated CS's enter line and hold timer,
    /// or the lock's next waiting session.
    fn enter(
        &mut self,
        lock: LockName,
        req: RequestId,
        votes: &[maekawa_core::id::NodeId],
        token: u64,
    ) -> Result<(), NodeError> {
        if lock != self.cs {
            info!(
                event = "enter_cs",
                lock = lock.as_str(),
                req_ts = req.ts,
                req_node = req.node.0,
                votes = %json_ids(votes),
                token
            );
            self.metrics.entered(lock.as_str());
            self.sessions.entered(&lock, token);
            return Ok(());
        }
        self.entries += 1;
        // The enter line is written before the node acts in the CS (PROTOCOL.md §4).
        self.cs_log
            .enter(self.me, self.entries, req, votes, token)?;
        let wait_ms = self
            .requested_at
            .take()
            .map_or(0.0, |t| (t.elapsed().as_secs_f64() * 1e6).round() / 1e3);
        info!(
            event = "enter_cs",
            entry = self.entries,
            req_ts = req.ts,
            req_node = req.node.0,
            votes = %json_ids(votes),
            wait_ms,
            lock = LockName::CS,
            token
        );
        self.metrics.entered(LockName::CS);
        if self.settings.workload == Workload::Auto {
            self.hold_until = Some(Instant::now() + self.settings.hold.draw(&mut self.rng));
        }
        Ok(())
    }
}
