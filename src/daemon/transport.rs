//! gRPC links between nodes: FIFO, exactly-once delivery per ordered pair of live processes
//! (PROTOCOL.md §2, "Channels").
//!
//! For every peer `p`, this node keeps ONE long-lived `Link` stream to `p` and sends every
//! protocol message for `p` on it, numbered by a per-link sequence number. `p` answers with
//! cumulative acknowledgements. Unacknowledged messages are kept and resent after a reconnect;
//! the receiver drops sequence numbers it has already delivered. Links reconnect forever with
//! capped backoff, so nodes may start in any order.
//!
//! Every link that carried nothing for a quarter of `--suspect-after` carries a heartbeat frame
//! (not a protocol message: no sequence number, not logged), which the receiver answers with an
//! acknowledgement. Anything from a peer (its Hello, messages and heartbeats on its link to us,
//! acknowledgements on ours to it) counts as hearing from it; a peer silent for
//! `--suspect-after` is suspected, and hearing from it again ends the suspicion
//! ([`TransportEvent::Suspicion`]). A suspicion is only an opinion: the transport keeps
//! reconnecting and resending as before.
//!
//! The listener (an incoming-connection stream) and the connector (how to reach an address)
//! are passed in, so the daemon can run over a simulated network too. prost types never leave
//! this module: the rest of the crate sees [`Message`] and [`TransportEvent`].

use maekawa_core::id::NodeId;
use maekawa_core::member::LockName;
use maekawa_core::protocol::{Message, MsgKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex, Notify};
use tokio::task::JoinSet;
use tokio_stream::wrappers::{ReceiverStream, WatchStream};
use tokio_stream::StreamExt;
use tonic::transport::Channel;

use crate::daemon::limits;
use crate::daemon::liveness::watch_silence;
pub use crate::daemon::liveness::Liveness;
use crate::daemon::node_log::NodeLog;
use crate::daemon::validate::{self, Frame};
use crate::daemon::wire;
use crate::node_event::FrameKind;
mod answers;
pub use answers::connect_failed;
use answers::{bad_frame, refused};
use wire::peer_client::PeerClient;
use wire::peer_server::{Peer, PeerServer};

/// What the transport tells the node driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// A message from `from`, delivered in send order, exactly once.
    Message {
        /// The sender.
        from: NodeId,
        /// The lock the message is about.
        lock: LockName,
        /// The message.
        msg: Message,
    },
    /// Our outgoing link to `peer` is established (after start or a reconnect).
    PeerUp {
        /// The peer.
        peer: NodeId,
    },
    /// `peer` opened a link to us as `incarnation`, newer than any seen before on this
    /// process's links: it (re)started, or this is first contact. Comes before any message of
    /// that incarnation.
    PeerIncarnation {
        /// The peer.
        peer: NodeId,
        /// Its incarnation.
        incarnation: u64,
        /// Its token floor when it started (from its journal).
        floor: u64,
        /// It lost its journal and waits for its peers' floors.
        wants_floor: bool,
    },
    /// Our outgoing link to `peer` broke; unacknowledged messages will be resent.
    PeerDown {
        /// The peer.
        peer: NodeId,
        /// Why, as reported by gRPC.
        reason: String,
    },
    /// Nothing was heard from `peer` for the suspicion timeout (`suspected`), or something was
    /// heard from it again after that (not `suspected`). Each flips the peer's state, so they
    /// alternate, starting with a suspicion. An end of suspicion comes before the message that
    /// ended it.
    Suspicion {
        /// The peer.
        peer: NodeId,
        /// True when it is suspected from now on, false when it is heard again.
        suspected: bool,
        /// How long it had been silent: until now, or until it was heard again.
        silent: Duration,
    },
}

/// How to open a channel to a peer's address; injectable so tests or a simulated network can
/// replace TCP.
pub type Connector = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = Result<Channel, LinkDown>> + Send>> + Send + Sync,
>;

/// Why a link to a peer is down: the `reason` of its `peer_down` line, in the words of
/// whoever ended it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkDown {
    /// The peer could not be reached (the connector's words).
    #[error("{0}")]
    Unreachable(String),
    /// Nothing listens at the peer's address: no process of it runs (so none remembers
    /// anything, which is what a node that recalls its incarnation needs to know).
    #[error("{0}")]
    Refused(String),
    /// The peer refused or ended the call (gRPC's words).
    #[error("{0}")]
    Status(String),
    /// This end's stream of frames is gone.
    #[error("stream closed")]
    StreamClosed,
    /// The peer ended the link.
    #[error("peer closed the link")]
    PeerClosed,
}

/// TCP with `TCP_NODELAY` (every protocol message is small and latency-bound), in plaintext or
/// mutual TLS as `security` says.
pub fn tcp_connector(security: crate::tls::Security) -> Connector {
    Arc::new(move |addr: String| {
        let endpoint = security.endpoint(&addr);
        Box::pin(async move {
            let endpoint = endpoint.map_err(|e| LinkDown::Unreachable(e.to_string()))?;
            link_settings(endpoint.tcp_nodelay(true))
                .connect()
                .await
                .map_err(connect_failed)
        })
    })
}

/// The HTTP/2 settings of a link to a peer, over TCP or any other connector (the simulated
/// network's): a connect that gives up after a second, and a keepalive ping every 5 s that
/// ends a link whose peer stopped answering.
pub fn link_settings(endpoint: tonic::transport::Endpoint) -> tonic::transport::Endpoint {
    endpoint
        .connect_timeout(Duration::from_secs(1))
        .http2_keep_alive_interval(Duration::from_secs(5))
        .keep_alive_timeout(Duration::from_secs(5))
}

/// Who this node is on the wire and who its peers are.
#[derive(Debug, Clone)]
pub struct TransportConfig {
    /// This node.
    pub me: NodeId,
    /// This process's incarnation (sent in every Hello).
    pub incarnation: u64,
    /// Random per process (sent in every Hello): a peer refuses a second process that claims
    /// an incarnation another process already used.
    pub boot: u64,
    /// This process lost its journal (sent in every Hello): its peers answer with their
    /// token floor (a `Floor` message).
    pub awaits_floor: bool,
    /// This process's token floor (its journal's: no token it used or knows of is larger), kept
    /// current by the driver and sent in every Hello. A restarted process starts from its
    /// journal's, which is what lets a peer free its dead votes safely (DESIGN.md).
    pub floor: Arc<AtomicU64>,
    /// Every other node this node talks to, with its address.
    pub peers: Vec<(NodeId, String)>,
    /// When each peer was last heard from (made with the same peers and the suspicion
    /// timeout), shared by the [`Transport`] and [`PeerService`] made from this config.
    pub liveness: Liveness,
    /// Who may open a link: under mutual TLS only the node a certificate names, as itself.
    pub gate: crate::tls::Gate,
    /// The node's log, for the links it refuses (`refused_link`, `bad_frame`).
    pub log: NodeLog,
    /// The injected defect [`crate::daemon::Flaws::drop_resend_on_reconnect`].
    pub drop_resend_on_reconnect: bool,
}

const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(1000);

/// Acknowledgements leave a link at most this often (less on links with a short
/// `--suspect-after`): the latest one stands for every message before it, so the ones in
/// between are never written. An acknowledgement only lets the sender forget what it keeps
/// for a resend, so nothing waits for it; acknowledging every message instead doubled the
/// frames, write(2)s and wake-ups per message (BENCHMARKS.md, "CPU per message").
const ACK_EVERY: Duration = Duration::from_millis(10);

/// The sending half held by the driver: one outbox per peer, drained by that peer's link task.
pub struct Transport {
    outboxes: BTreeMap<NodeId, mpsc::UnboundedSender<(LockName, Message)>>,
    kicks: BTreeMap<NodeId, Arc<Notify>>,
    closing: watch::Sender<bool>,
    links: JoinSet<()>,
    watchdog: tokio::task::JoinHandle<()>,
}

impl Drop for Transport {
    /// The task that suspects silent peers ends with the transport, also when the node's task
    /// is dropped mid-batch (a simulated `kill -9`).
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}

impl Transport {
    /// Starts one link task per peer, and the task that suspects silent peers. Events
    /// (delivered messages, link changes, suspicions) go to `events`; the caller must also
    /// serve a [`PeerService`] so peers can reach it.
    pub fn start(
        cfg: &TransportConfig,
        connector: Connector,
        events: mpsc::Sender<TransportEvent>,
    ) -> Transport {
        let (closing, closing_rx) = watch::channel(false);
        let mut outboxes = BTreeMap::new();
        let mut kicks = BTreeMap::new();
        let mut links = JoinSet::new();
        for (peer, addr) in &cfg.peers {
            let (tx, rx) = mpsc::unbounded_channel();
            outboxes.insert(*peer, tx);
            let kick = Arc::new(Notify::new());
            kicks.insert(*peer, kick.clone());
            links.spawn(run_link(
                LinkId {
                    me: cfg.me,
                    incarnation: cfg.incarnation,
                    floor: cfg.floor.clone(),
                    boot: cfg.boot,
                    awaits_floor: cfg.awaits_floor,
                    peer: *peer,
                    addr: addr.clone(),
                    liveness: cfg.liveness.clone(),
                    drop_resend: cfg.drop_resend_on_reconnect,
                    ever_up: AtomicBool::new(false),
                },
                connector.clone(),
                rx,
                events.clone(),
                closing_rx.clone(),
                kick,
            ));
        }
        let watchdog = tokio::spawn(watch_silence(cfg.liveness.clone(), events));
        Transport {
            outboxes,
            kicks,
            closing,
            links,
            watchdog,
        }
    }

    /// Queues `msg` for `to`; it will be delivered once, in order, whenever `to` is reachable.
    pub fn send(&self, to: NodeId, lock: LockName, msg: Message) {
        if let Some(outbox) = self.outboxes.get(&to) {
            // A closed outbox means the link task ended at shutdown: nothing left to deliver to.
            let _ = outbox.send((lock, msg));
        }
    }

    /// `peer` is reachable again (it just opened a link to us): if our link to it is waiting
    /// out a reconnect backoff, try now rather than up to a second later.
    pub fn kick(&self, peer: NodeId) {
        if let Some(kick) = self.kicks.get(&peer) {
            kick.notify_one();
        }
    }

    /// Finishes in-flight sends: waits until every queued message is acknowledged, or until
    /// `deadline` passes (a peer that is down cannot acknowledge). Returns true when all were.
    pub async fn close(mut self, deadline: Duration) -> bool {
        self.watchdog.abort();
        let _ = self.closing.send(true);
        self.outboxes.clear();
        let all = async { while self.links.join_next().await.is_some() {} };
        let done = tokio::time::timeout(deadline, all).await.is_ok();
        self.links.abort_all();
        done
    }
}

struct LinkId {
    me: NodeId,
    incarnation: u64,
    boot: u64,
    awaits_floor: bool,
    floor: Arc<AtomicU64>,
    peer: NodeId,
    addr: String,
    liveness: Liveness,
    /// The injected defect: a reconnect forgets the unacknowledged.
    drop_resend: bool,
    /// Whether this link was up before: a connect is then a reconnect.
    ever_up: AtomicBool,
}

/// One outgoing link: connect, send Hello, resend the unacknowledged, then stream the outbox;
/// on any error, back off and do it again.
async fn run_link(
    id: LinkId,
    connector: Connector,
    mut outbox: mpsc::UnboundedReceiver<(LockName, Message)>,
    events: mpsc::Sender<TransportEvent>,
    mut closing: watch::Receiver<bool>,
    kick: Arc<Notify>,
) {
    let mut next_seq: u64 = 1;
    let mut unacked: VecDeque<wire::Envelope> = VecDeque::new();
    let mut outbox_open = true;
    let mut backoff = MIN_BACKOFF;
    let mut was_up = false;
    let finished = |closing: &watch::Receiver<bool>, outbox_open: bool, unacked: &VecDeque<_>| {
        *closing.borrow() && !outbox_open && unacked.is_empty()
    };
    loop {
        // Pull whatever is queued, so a shutdown with nothing to say ends at once.
        while outbox_open {
            match outbox.try_recv() {
                Ok((lock, msg)) => {
                    unacked.push_back(to_envelope(next_seq, &lock, &msg));
                    next_seq += 1;
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => outbox_open = false,
            }
        }
        if finished(&closing, outbox_open, &unacked) {
            return;
        }
        let reason = match connect_and_stream(
            &id,
            &connector,
            &mut outbox,
            &mut outbox_open,
            &mut next_seq,
            &mut unacked,
            &events,
            &mut closing,
            &mut was_up,
            &mut backoff,
        )
        .await
        {
            Ok(()) => return,
            Err(reason) => reason.to_string(),
        };
        if was_up {
            was_up = false;
            let _ = events
                .send(TransportEvent::PeerDown {
                    peer: id.peer,
                    reason,
                })
                .await;
        }
        if *closing.borrow() && !outbox_open && unacked.is_empty() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = closing.changed() => {}
            _ = kick.notified() => backoff = MIN_BACKOFF,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[allow(clippy::too_many_arguments)]
async fn connect_and_stream(
    id: &LinkId,
    connector: &Connector,
    outbox: &mut mpsc::UnboundedReceiver<(LockName, Message)>,
    outbox_open: &mut bool,
    next_seq: &mut u64,
    unacked: &mut VecDeque<wire::Envelope>,
    events: &mpsc::Sender<TransportEvent>,
    closing: &mut watch::Receiver<bool>,
    was_up: &mut bool,
    backoff: &mut Duration,
) -> Result<(), LinkDown> {
    let channel = connector(id.addr.clone()).await?;
    let mut client = PeerClient::new(channel);
    let (frames, frames_rx) = mpsc::channel::<wire::LinkFrame>(1024);
    // Hello goes first and is already queued when the call starts: the server reads it
    // before it answers with the response headers the call waits for.
    let hello = wire::LinkFrame {
        body: Some(wire::link_frame::Body::Hello(wire::Hello {
            from: id.me.0,
            to: id.peer.0,
            incarnation: id.incarnation,
            token: id.floor.load(Ordering::Relaxed),
            boot: id.boot,
            awaits_floor: id.awaits_floor,
            epoch: 0,
        })),
    };
    let gone = |_| LinkDown::StreamClosed;
    frames.send(hello).await.map_err(gone)?;
    let response = client
        .link(ReceiverStream::new(frames_rx))
        .await
        .map_err(|s| LinkDown::Status(s.message().to_string()))?;
    let mut acks = response.into_inner();
    // The peer's server answered: it lives.
    id.liveness.heard_from(id.peer, events).await;
    if id.drop_resend && id.ever_up.swap(true, Ordering::Relaxed) {
        unacked.clear();
    }
    for env in unacked.iter() {
        frames.send(frame(env.clone())).await.map_err(gone)?;
    }
    *was_up = true;
    *backoff = MIN_BACKOFF;
    let _ = events.send(TransportEvent::PeerUp { peer: id.peer }).await;
    let mut heartbeat = tokio::time::interval(id.liveness.heartbeat_interval());
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    heartbeat.reset();
    let mut sent_since_tick = !unacked.is_empty();
    loop {
        if *closing.borrow() && !*outbox_open && unacked.is_empty() {
            return Ok(());
        }
        tokio::select! {
            ack = acks.message() => match ack {
                Ok(Some(ack)) => {
                    id.liveness.heard_from(id.peer, events).await;
                    while unacked.front().is_some_and(|e| e.seq <= ack.seq) {
                        unacked.pop_front();
                    }
                }
                Ok(None) => return Err(LinkDown::PeerClosed),
                Err(status) => return Err(LinkDown::Status(status.message().to_string())),
            },
            msg = outbox.recv(), if *outbox_open => match msg {
                Some((lock, msg)) => {
                    let env = to_envelope(*next_seq, &lock, &msg);
                    *next_seq += 1;
                    unacked.push_back(env.clone());
                    frames.send(frame(env)).await.map_err(gone)?;
                    sent_since_tick = true;
                }
                None => *outbox_open = false,
            },
            _ = heartbeat.tick() => {
                // Only on a link idle since the last tick; a full queue (a peer that does not
                // read) needs no heartbeat on top.
                if !std::mem::take(&mut sent_since_tick) {
                    let _ = frames.try_send(wire::LinkFrame {
                        body: Some(wire::link_frame::Body::Heartbeat(wire::Heartbeat {})),
                    });
                }
            }
            _ = closing.changed() => {}
        }
    }
}

fn frame(env: wire::Envelope) -> wire::LinkFrame {
    wire::LinkFrame {
        body: Some(wire::link_frame::Body::Envelope(env)),
    }
}

pub(crate) fn to_envelope(seq: u64, lock: &LockName, msg: &Message) -> wire::Envelope {
    let kind = match msg.kind {
        MsgKind::Request => wire::Kind::Request,
        MsgKind::Grant => wire::Kind::Grant,
        MsgKind::Failed => wire::Kind::Failed,
        MsgKind::Inquire => wire::Kind::Inquire,
        MsgKind::Yield => wire::Kind::Yield,
        MsgKind::Release => wire::Kind::Release,
        MsgKind::Sync => wire::Kind::Sync,
        MsgKind::Resync => wire::Kind::Resync,
        MsgKind::Fence => wire::Kind::Fence,
        MsgKind::Fenced => wire::Kind::Fenced,
        MsgKind::Revoked => wire::Kind::Revoked,
        MsgKind::Floor => wire::Kind::Floor,
    };
    wire::Envelope {
        seq,
        kind: kind as i32,
        lamport: msg.lamport.0,
        req_ts: msg.req.ts.0,
        req_node: msg.req.node.0,
        req_inc: msg.req.inc.0,
        holds_grant: msg.holds_grant,
        to_inc: msg.to_inc.0,
        // The emulated CS, by far the most common, costs no bytes.
        lock: if lock.as_str() == LockName::CS {
            String::new()
        } else {
            lock.as_str().to_string()
        },
        token: msg.token.0,
        echo: msg.echo,
        req_epoch: 0,
        config: Vec::new(),
    }
}

/// What the receiver remembers of one sender, across that sender's reconnects.
#[derive(Default)]
struct Inbound {
    incarnation: u64,
    /// The Hello's `boot` of the process that is `incarnation`.
    boot: u64,
    delivered: u64,
    /// Ends the sender's current link when a newer one arrives: one live link per sender,
    /// however many streams it opens.
    current: Option<Arc<Notify>>,
}

/// One accepted link from a peer, as its receiving task sees it.
struct InboundLink {
    from: NodeId,
    /// The sender's incarnation, from its Hello.
    incarnation: u64,
    /// Its socket address, for the log line of a refused frame.
    addr: String,
    state: Arc<Mutex<Inbound>>,
    acks: watch::Sender<wire::LinkAck>,
    /// Ends the link with the reason of a bad frame.
    refuse: mpsc::Sender<tonic::Status>,
}

/// The receiving half: the gRPC service peers stream into. Clones share what they remember of
/// each sender, so a restarted server keeps deduplicating.
#[derive(Clone)]
pub struct PeerService {
    me: NodeId,
    /// Set once the node has taken its incarnation: until then it answers only `Recall`s
    /// (as a process that remembers nothing) and refuses links.
    incarnation: Arc<std::sync::OnceLock<u64>>,
    /// This node's journal floor, which a Recall answer gives.
    floor: Arc<AtomicU64>,
    senders: Arc<BTreeMap<NodeId, Arc<Mutex<Inbound>>>>,
    events: mpsc::Sender<TransportEvent>,
    liveness: Liveness,
    gate: crate::tls::Gate,
    log: NodeLog,
}

impl PeerService {
    /// A service that accepts links from `peers` and delivers their messages to `events`.
    pub fn new(cfg: &TransportConfig, events: mpsc::Sender<TransportEvent>) -> PeerService {
        let incarnation = Arc::new(std::sync::OnceLock::new());
        if cfg.incarnation > 0 {
            let _ = incarnation.set(cfg.incarnation);
        }
        PeerService {
            me: cfg.me,
            incarnation,
            floor: cfg.floor.clone(),
            senders: Arc::new(
                cfg.peers
                    .iter()
                    .map(|(p, _)| (*p, Arc::new(Mutex::new(Inbound::default()))))
                    .collect(),
            ),
            events,
            liveness: cfg.liveness.clone(),
            gate: cfg.gate,
            log: cfg.log.clone(),
        }
    }

    /// The node took incarnation `incarnation` (a service made with incarnation 0 serves
    /// `Recall`s meanwhile): links are accepted from now on.
    pub fn started(&self, incarnation: u64) {
        let _ = self.incarnation.set(incarnation);
    }

    /// Every node of the cluster: this one and its peers.
    fn nodes(&self) -> BTreeSet<NodeId> {
        self.senders.keys().copied().chain([self.me]).collect()
    }

    /// The tonic service to mount on a server.
    pub fn into_server(self) -> PeerServer<PeerService> {
        PeerServer::new(self)
    }

    /// Whether a link whose caller is `caller` (under mutual TLS) and whose Hello is `hello`
    /// may go on; a refused link is logged.
    fn admit(
        &self,
        caller: Option<crate::tls::Role>,
        hello: &wire::Hello,
        addr: &str,
    ) -> Result<(), tonic::Status> {
        self.speaks_for(caller, hello.from, "open a link as")?;
        // Frames come from the network: nothing reaches the core unchecked (validate.rs).
        if let Err(refusal) = validate::check_hello(hello) {
            bad_frame(
                &self.log,
                FrameKind::Hello,
                hello.from,
                addr,
                refusal.reason(),
            );
            return Err(refusal.into());
        }
        self.addressed_to_me(hello.to)
    }

    /// Reads `link`'s frames until it ends, is superseded by a newer link of the same sender,
    /// or sends a bad frame: delivers each new message once, in order, and acknowledges.
    async fn receive(
        self,
        link: InboundLink,
        mut frames: tonic::Streaming<wire::LinkFrame>,
        superseded: Arc<Notify>,
    ) {
        let (me, nodes, from) = (self.me, self.nodes(), link.from);
        let incarnation = self.incarnation.get().copied().unwrap_or_default();
        let ack = |seq| wire::LinkAck { seq, incarnation };
        loop {
            let frame = tokio::select! {
                frame = frames.message() => frame,
                // A newer link of the same sender took over: this one ends.
                () = superseded.notified() => return,
            };
            let Ok(Some(frame)) = frame else { return };
            let env = match validate::check_frame(&frame, from, me, &nodes) {
                Ok(Frame::Message { seq, lock, msg }) => Some((seq, lock, msg)),
                Ok(Frame::Heartbeat) => None,
                Ok(Frame::Unknown) => continue,
                Err(refusal) => {
                    let kind = validate::frame_kind(&frame);
                    bad_frame(&self.log, kind, from.0, &link.addr, refusal.reason());
                    let _ = link.refuse.try_send(refusal.into());
                    return;
                }
            };
            let mut s = link.state.lock().await;
            if s.incarnation != link.incarnation {
                return; // superseded by a newer process of the sender
            }
            self.liveness.heard_from(from, &self.events).await;
            let Some((seq, lock, msg)) = env else {
                // A heartbeat: answered with the current acknowledgement.
                let _ = link.acks.send(ack(s.delivered));
                continue;
            };
            if seq > s.delivered {
                let delivered = TransportEvent::Message { from, lock, msg };
                if self.events.send(delivered).await.is_err() {
                    return;
                }
                s.delivered = seq;
            }
            let _ = link.acks.send(ack(s.delivered));
        }
    }
}

#[tonic::async_trait]
impl Peer for PeerService {
    type LinkStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<wire::LinkAck, tonic::Status>> + Send>>;

    /// See `answers.rs`.
    async fn recall(
        &self,
        request: tonic::Request<wire::RecallRequest>,
    ) -> Result<tonic::Response<wire::RecallReply>, tonic::Status> {
        self.answer_recall(request).await
    }

    async fn link(
        &self,
        request: tonic::Request<tonic::Streaming<wire::LinkFrame>>,
    ) -> Result<tonic::Response<Self::LinkStream>, tonic::Status> {
        let caller = self
            .gate
            .caller(&request)
            .inspect_err(|s| refused(&self.log, None, s))?;
        // Where the frames come from, for the log line of a refused one.
        let addr = request
            .remote_addr()
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        let mut frames = request.into_inner();
        let first = tokio::time::timeout(limits::FIRST_MESSAGE_WITHIN, frames.message())
            .await
            .map_err(|_| tonic::Status::deadline_exceeded("no Hello within 5 s"))?;
        let hello = match first? {
            Some(wire::LinkFrame {
                body: Some(wire::link_frame::Body::Hello(h)),
            }) => h,
            _ => return Err(tonic::Status::invalid_argument("a link starts with Hello")),
        };
        self.admit(caller, &hello, &addr)?;
        let Some(&incarnation) = self.incarnation.get() else {
            return Err(tonic::Status::unavailable(
                "node is starting: it recalls its incarnation",
            ));
        };
        let from = NodeId(hello.from);
        let state = self.sender(from)?;
        let superseded = Arc::new(Notify::new());
        {
            let mut s = state.lock().await;
            if hello.incarnation < s.incarnation {
                return Err(tonic::Status::failed_precondition(format!(
                    "node {from} incarnation {} is dead: incarnation {} has started since",
                    hello.incarnation, s.incarnation
                )));
            }
            // A boot of 0 is not checked (no daemon sends it; a test's hand-made Hello does).
            let clash = hello.boot != 0 && s.boot != 0 && hello.boot != s.boot;
            if hello.incarnation == s.incarnation && clash {
                let status = tonic::Status::failed_precondition(format!(
                    "node {from} incarnation {} already ran in another process: its \
                     incarnation file was lost and its peers could not all be asked; restart \
                     node {from}, it will recall a larger one",
                    hello.incarnation
                ));
                refused(&self.log, Some(hello.from), &status);
                return Err(status);
            }
            self.liveness.heard_from(from, &self.events).await;
            if hello.incarnation > s.incarnation {
                // A new process on the sender's side numbers its link from 1 again.
                s.incarnation = hello.incarnation;
                s.boot = hello.boot;
                s.delivered = 0;
                let news = TransportEvent::PeerIncarnation {
                    peer: from,
                    incarnation: hello.incarnation,
                    floor: hello.token,
                    wants_floor: hello.awaits_floor,
                };
                if self.events.send(news).await.is_err() {
                    return Err(tonic::Status::unavailable("node is stopping"));
                }
            }
            if let Some(older) = s.current.replace(superseded.clone()) {
                older.notify_one();
            }
        }
        let (acks, acks_rx) = watch::channel(wire::LinkAck {
            seq: 0,
            incarnation,
        });
        // A bad frame ends the link with its reason, after the acknowledgements so far.
        let (refuse, refused) = mpsc::channel::<tonic::Status>(1);
        let link = InboundLink {
            from,
            incarnation: hello.incarnation,
            addr,
            state,
            acks,
            refuse,
        };
        tokio::spawn(self.clone().receive(link, frames, superseded));
        let ack_every = ACK_EVERY.min(self.liveness.heartbeat_interval() / 4);
        let stream = WatchStream::new(acks_rx)
            .throttle(ack_every)
            .map(Ok)
            .chain(ReceiverStream::new(refused).map(Err));
        Ok(tonic::Response::new(Box::pin(stream)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use maekawa_core::id::{Incarnation, Lamport, RequestId, Token};
    use std::sync::atomic::Ordering;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;
    use tokio::time::Instant;

    /// A TCP stream that fails for good once the shared generation moves past its own: lets a
    /// test cut every open connection at a moment of its choosing.
    struct Cuttable {
        inner: TcpStream,
        born: u64,
        generation: Arc<AtomicU64>,
    }

    impl Cuttable {
        fn cut(&self) -> bool {
            self.generation.load(Ordering::SeqCst) != self.born
        }
    }

    fn broken() -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::ConnectionReset, "cut by the test")
    }

    impl AsyncRead for Cuttable {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if self.cut() {
                return Poll::Ready(Err(broken()));
            }
            Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Cuttable {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            if self.cut() {
                return Poll::Ready(Err(broken()));
            }
            Pin::new(&mut self.inner).poll_write(cx, buf)
        }
        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    fn cuttable_connector(generation: Arc<AtomicU64>) -> Connector {
        Arc::new(move |addr: String| {
            let generation = generation.clone();
            Box::pin(async move {
                let unreachable = |e: tonic::transport::Error| LinkDown::Unreachable(e.to_string());
                let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                    .map_err(unreachable)?;
                endpoint
                    .connect_with_connector(tower::service_fn(move |_uri| {
                        let (addr, generation) = (addr.clone(), generation.clone());
                        async move {
                            let inner = TcpStream::connect(addr).await?;
                            inner.set_nodelay(true)?;
                            let born = generation.load(Ordering::SeqCst);
                            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(Cuttable {
                                inner,
                                born,
                                generation,
                            }))
                        }
                    }))
                    .await
                    .map_err(unreachable)
            })
        })
    }

    /// A suspicion timeout no test waits for: no suspicion among the events it checks.
    const QUIET: Duration = Duration::from_secs(3600);

    fn numbered(i: u64) -> Message {
        Message {
            kind: MsgKind::Request,
            lamport: Lamport(i),
            req: RequestId {
                ts: Lamport(i),
                node: NodeId(0),
                inc: Incarnation(1),
            },
            holds_grant: false,
            to_inc: Incarnation(0),
            token: Token(i),
            echo: 0,
        }
    }

    /// A peer is suspected once when its silence reaches the timeout, and hearing from it
    /// ends the suspicion with the whole silence; a peer heard in time is never suspected.
    #[test]
    fn silence_is_suspected_once_and_ended_by_hearing_again() {
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        let live = Liveness::heard_at([NodeId(1), NodeId(2)], ms(1000), t0);
        assert_eq!(live.heartbeat_interval(), ms(250));
        assert_eq!(live.heard(NodeId(2), t0 + ms(600)), None, "not suspected");
        assert!(live.newly_silent(t0 + ms(999)).is_empty());
        assert_eq!(live.newly_silent(t0 + ms(1000)), [(NodeId(1), ms(1000))]);
        assert_eq!(
            live.newly_silent(t0 + ms(1600)),
            [(NodeId(2), ms(1000))],
            "node 1 is not suspected twice"
        );
        assert_eq!(live.heard(NodeId(1), t0 + ms(1700)), Some(ms(1700)));
        assert_eq!(
            live.heard(NodeId(1), t0 + ms(1800)),
            None,
            "no longer suspected"
        );
        assert_eq!(live.heard(NodeId(7), t0 + ms(1800)), None, "not a peer");
        assert!(live.newly_silent(t0 + ms(2799)).is_empty());
        assert_eq!(live.newly_silent(t0 + ms(2800)), [(NodeId(1), ms(1000))]);
    }

    /// FIFO and exactly-once across broken connections: node 0 streams numbered messages to
    /// node 1 while the test cuts the link three times mid-stream (and waits to see the link go
    /// down and come back each time); node 1 must see 1..=N, each once, in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_survive_cut_connections_in_order_exactly_once() {
        const N: u64 = 3_000;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (deliver, mut delivered) = mpsc::channel(N as usize + 100);
        let receiver = PeerService::new(
            &TransportConfig {
                me: NodeId(1),
                incarnation: 1,
                boot: 1,
                awaits_floor: false,
                floor: Arc::default(),
                peers: vec![(NodeId(0), "unused".into())],
                liveness: Liveness::new([NodeId(0)], QUIET),
                gate: crate::tls::Gate::open(),
                log: NodeLog::to_writer(NodeId(0), std::io::sink()),
                drop_resend_on_reconnect: false,
            },
            deliver,
        );
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(receiver.into_server())
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        let generation = Arc::new(AtomicU64::new(0));
        let (events, mut link_events) = mpsc::channel(100);
        let sender = Transport::start(
            &TransportConfig {
                me: NodeId(0),
                incarnation: 1,
                boot: 1,
                awaits_floor: false,
                floor: Arc::default(),
                peers: vec![(NodeId(1), addr)],
                liveness: Liveness::new([NodeId(1)], QUIET),
                gate: crate::tls::Gate::open(),
                log: NodeLog::to_writer(NodeId(0), std::io::sink()),
                drop_resend_on_reconnect: false,
            },
            cuttable_connector(generation.clone()),
            events,
        );
        let mut got = Vec::new();
        let mut next = 1;
        let send_up_to = |last: u64, next: &mut u64| {
            while *next <= last.min(N) {
                let lock = if next.is_multiple_of(2) {
                    "cs"
                } else {
                    "orders"
                };
                sender.send(NodeId(1), LockName::from(lock), numbered(*next));
                *next += 1;
            }
        };
        async fn receive(
            delivered: &mut mpsc::Receiver<TransportEvent>,
            got: &mut Vec<u64>,
            until: usize,
        ) {
            while got.len() < until {
                let ev = tokio::time::timeout(Duration::from_secs(10), delivered.recv())
                    .await
                    .expect("delivery within 10 s")
                    .unwrap();
                if let TransportEvent::Message { lock, msg, .. } = ev {
                    // The lock name (empty on the wire for `cs`) and the token arrive intact.
                    let expected = if msg.lamport.0.is_multiple_of(2) {
                        "cs"
                    } else {
                        "orders"
                    };
                    assert_eq!((lock.as_str(), msg.token.0), (expected, msg.lamport.0));
                    got.push(msg.lamport.0);
                }
            }
        }
        let first = tokio::time::timeout(Duration::from_secs(10), link_events.recv()).await;
        assert!(
            matches!(first, Ok(Some(TransportEvent::PeerUp { .. }))),
            "{first:?}"
        );
        for round in 1..=3u64 {
            send_up_to(round * 900, &mut next);
            let until = got.len() + 200;
            receive(&mut delivered, &mut got, until).await;
            // Cut mid-stream, then send more so the sender runs into the cut.
            generation.fetch_add(1, Ordering::SeqCst);
            send_up_to(round * 900 + 50, &mut next);
            for expected in ["down", "up"] {
                let ev = tokio::time::timeout(Duration::from_secs(10), link_events.recv())
                    .await
                    .expect("link event within 10 s")
                    .unwrap();
                let seen = match ev {
                    TransportEvent::PeerDown { .. } => "down",
                    TransportEvent::PeerUp { .. } => "up",
                    TransportEvent::Message { .. } | TransportEvent::PeerIncarnation { .. } => {
                        "receiver-side event"
                    }
                    TransportEvent::Suspicion { .. } => "suspicion",
                };
                assert_eq!(seen, expected, "round {round}");
            }
        }
        send_up_to(N, &mut next);
        receive(&mut delivered, &mut got, N as usize).await;
        // Everything acknowledged means nothing more can be resent; then nothing else arrived.
        assert!(
            sender.close(Duration::from_secs(10)).await,
            "all acknowledged"
        );
        assert!(
            delivered.try_recv().is_err(),
            "no duplicate after the last message"
        );
        assert_eq!(got, (1..=N).collect::<Vec<_>>());
    }
}
