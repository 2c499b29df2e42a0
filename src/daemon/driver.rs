//! The driver: one task that feeds transport events, timers and control commands into the
//! protocol core and carries out the core's actions in order.
//!
//! It owns the core, the CS log and the transport's sending half; nothing else touches them,
//! so there is no shared mutable state. Self-messages are handled at once, from a local queue,
//! after the batch of actions that produced them (the same order `cluster` checks). Every
//! message sent and received is logged here as a JSON line (see README.md, "Logs").

use super::command::{Control, Status};
use super::control::ControlService;
use super::cslog::CsLog;
use super::incarnation::{next_incarnation, IncarnationError};
use super::journal::Journal;
use super::node_log;
use super::settings::{NodeSettings, Workload};
use super::transport::{Connector, PeerService, Transport, TransportConfig, TransportEvent};
use maekawa_core::id::{NodeId, RequestId};
use maekawa_core::protocol::{Action, LogEvent, Message, MsgKind, Node, Phase};
use maekawa_core::sim::SplitMix64;
use std::collections::VecDeque;
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
    let (journal, journaled_lock) = Journal::open(&settings.log_dir, me)?;
    let journaled_lock = if settings.unsafe_no_journal {
        None
    } else {
        journaled_lock
    };
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
    );

    let peers: Vec<(NodeId, String)> = settings
        .config
        .nodes
        .iter()
        .filter(|n| n.id != me)
        .map(|n| (n.id, n.addr.clone()))
        .collect();
    let tcfg = TransportConfig {
        me,
        incarnation,
        peers,
    };
    let (events_tx, mut events) = mpsc::channel::<TransportEvent>(4096);
    let service = PeerService::new(&tcfg, events_tx.clone());
    let (control_tx, mut control) = mpsc::channel::<Control>(16);
    let (stop_serving, stop_serving_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service.into_server())
            .add_service(ControlService::new(control_tx).into_server())
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_serving_rx.await;
            }),
    );
    let transport = Transport::start(&tcfg, connector, events_tx);

    let seed = u64::from(std::process::id()) ^ (u64::from(me.0) << 32) ^ incarnation;
    let (core, restore_actions) =
        Node::restore(me, &quorum, incarnation, journaled_lock, Default::default());
    let mut driver = Driver {
        me,
        core,
        journal,
        outgoing: Vec::new(),
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
    };
    driver.execute(restore_actions)?;
    driver.flush().await?;
    driver.schedule_think();

    tokio::pin!(shutdown);
    let mut control_open = true;
    // Each batch's lines are written together by `flush` (see `node_log`). If this returns
    // early with an error (or a panic unwinds it), the lines still held describe messages that
    // never left: `unsent` throws them away rather than let the log guard write them.
    node_log::hold_lines();
    let unsent = DiscardHeldLines;
    loop {
        let think = driver.think_until;
        let hold = driver.hold_until;
        tokio::select! {
            _ = &mut shutdown => break,
            ev = events.recv() => match ev {
                Some(ev) => {
                    driver.on_event(ev)?;
                    // Whatever else has already arrived joins this batch (one fsync for all).
                    for _ in 0..256 {
                        let Ok(ev) = events.try_recv() else { break };
                        driver.on_event(ev)?;
                    }
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
        }
        driver.flush().await?;
    }
    driver.flush().await?;
    if matches!(driver.core.phase(), Phase::InCs(_)) {
        driver.exit()?;
        driver.flush().await?;
    }
    driver.journal.sync()?;
    let entries = driver.entries;
    let flushed = driver.transport.close(Duration::from_secs(2)).await;
    // Peers' streams into this node never end by themselves: stop serving without waiting.
    let _ = stop_serving.send(());
    server.abort();
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
    core: Node,
    journal: Journal,
    /// Network messages of the current batch, in the order the core sent them.
    outgoing: Vec<(NodeId, Message)>,
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
}

impl Driver {
    fn on_event(&mut self, ev: TransportEvent) -> Result<(), NodeError> {
        match ev {
            TransportEvent::Message { from, msg } => {
                self.log_msg("recv", from, self.me, &msg);
                let actions = self.core.handle(from, msg);
                self.execute(actions)
            }
            TransportEvent::PeerIncarnation { peer, incarnation } => {
                info!(event = "peer_incarnation", peer = peer.0, incarnation);
                self.transport.kick(peer);
                let actions = self.core.peer_incarnation(peer, incarnation);
                self.execute(actions)
            }
            TransportEvent::PeerUp { peer } => {
                info!(event = "peer_up", peer = peer.0);
                Ok(())
            }
            TransportEvent::PeerDown { peer, reason } => {
                info!(event = "peer_down", peer = peer.0, reason = reason.as_str());
                Ok(())
            }
        }
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
        let mut outgoing = std::mem::take(&mut self.outgoing);
        let held = outgoing.split_off(self.held_from.take().unwrap_or(outgoing.len()));
        let mark = self.log_mark.take();
        if held.is_empty() {
            node_log::write_held_lines();
            self.send_all(outgoing);
            return Ok(());
        }
        node_log::write_held_lines_before(mark.unwrap_or(0));
        self.send_all(outgoing);
        // On a blocking thread: meanwhile this runtime's link tasks write out what just left
        // (the RELEASE of a node leaving the CS), instead of waiting for the disk.
        if let Some(job) = self.journal.sync_job()? {
            tokio::task::spawn_blocking(move || job.run())
                .await
                .expect("the journal sync thread does not panic")?;
        }
        node_log::write_held_lines_restamped();
        self.send_all(held);
        Ok(())
    }

    /// Hands `msgs` to their links; their `send` lines were logged when the core sent them.
    fn send_all(&mut self, msgs: Vec<(NodeId, Message)>) {
        for (to, msg) in msgs {
            self.transport.send(to, msg);
        }
    }

    /// Answers a command from `maekawa ctl` (through the control service).
    fn on_control(&mut self, cmd: Control) -> Result<(), NodeError> {
        let me = self.me;
        match cmd {
            Control::Request(reply) => {
                let answer = match self.core.phase() {
                    Phase::Idle => {
                        self.think_until = None;
                        self.request()?;
                        match self.core.phase() {
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
                let answer = match self.core.phase() {
                    Phase::InCs(r) => {
                        self.exit()?;
                        Ok(format!("node {me} left the CS (request {r})"))
                    }
                    Phase::Wanting(r) => Err(format!(
                        "node {me} is not in the CS: it still waits for votes from {} for request {r}",
                        json_ids(&self.status().missing)
                    )),
                    Phase::Idle => Err(format!("node {me} is not in the CS (it has no request)")),
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
        let view = self.core.requester();
        let waiting = !matches!(self.core.phase(), Phase::Idle);
        Status {
            node: self.me,
            incarnation: self.core.incarnation(),
            phase: self.core.phase(),
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
            lock: self.core.voter().lock,
            queue: self.core.voter().queue.iter().copied().collect(),
            entries: self.entries,
            workload: self.settings.workload,
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
        match self.core.request_cs() {
            Ok(actions) => {
                if let Phase::Wanting(req) = self.core.phase() {
                    info!(event = "request_cs", req_ts = req.ts, req_node = req.node.0);
                }
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
        let Phase::InCs(req) = self.core.phase() else {
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
            req_node = req.node.0
        );
        let actions = self.core.exit_cs().expect("in the CS, checked above");
        self.hold_until = None;
        self.execute(actions)?;
        self.schedule_think();
        Ok(())
    }

    fn log_msg(&self, dir: &'static str, from: NodeId, to: NodeId, msg: &Message) {
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
                req_inc = msg.req.inc
            );
        }
    }

    /// Carries out actions in order; self-messages are handled after the batch that sent them.
    fn execute(&mut self, actions: Vec<Action>) -> Result<(), NodeError> {
        let mut local: VecDeque<Message> = VecDeque::new();
        let mut batch = actions;
        loop {
            for action in batch {
                match action {
                    Action::Send { to, msg } => {
                        // Logged now, in the core's order; written by `flush` before it leaves.
                        self.log_msg("send", self.me, to, &msg);
                        if to == self.me {
                            local.push_back(msg);
                        } else {
                            self.outgoing.push((to, msg));
                        }
                    }
                    Action::EnterCs { req, votes } => self.enter(req, &votes)?,
                    Action::Persist { lock } => {
                        // Written now, made durable by `flush` before any message of this
                        // batch (the GRANT it protects among them) leaves.
                        if !self.settings.unsafe_no_journal {
                            self.journal.write(lock)?;
                            self.held_from.get_or_insert(self.outgoing.len());
                            self.log_mark.get_or_insert_with(node_log::held_mark);
                        }
                    }
                    Action::Log(LogEvent::Revote { what, req, why }) => info!(
                        event = "revote",
                        what,
                        req_ts = req.ts,
                        req_node = req.node.0,
                        req_inc = req.inc,
                        why
                    ),
                    Action::Log(LogEvent::Ignored { from, msg, why }) => info!(
                        event = "ignored",
                        msg = msg.kind.name(),
                        from = from.0,
                        req_ts = msg.req.ts,
                        req_node = msg.req.node.0,
                        why
                    ),
                    Action::Log(LogEvent::InquiryDeferred { voter, req }) => info!(
                        event = "inquiry_deferred",
                        voter = voter.0,
                        req_ts = req.ts,
                        req_node = req.node.0
                    ),
                }
            }
            let Some(msg) = local.pop_front() else {
                return Ok(());
            };
            self.log_msg("recv", self.me, self.me, &msg);
            batch = self.core.handle(self.me, msg);
        }
    }

    fn enter(
        &mut self,
        req: RequestId,
        votes: &[maekawa_core::id::NodeId],
    ) -> Result<(), NodeError> {
        self.entries += 1;
        // The enter line is written before the node acts in the CS (PROTOCOL.md §4).
        self.cs_log.enter(self.me, self.entries, req, votes)?;
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
            wait_ms
        );
        if self.settings.workload == Workload::Auto {
            self.hold_until = Some(Instant::now() + self.settings.hold.draw(&mut self.rng));
        }
        Ok(())
    }
}
