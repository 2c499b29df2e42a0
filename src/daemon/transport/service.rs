//! The receiving half: the `Peer` service that peers' links stream into. It admits a link from
//! a peer only (and under mutual TLS only from the node its certificate names), checks every
//! frame (`validate.rs`), delivers each new message once and in order, and acknowledges.

use super::answers::{bad_frame, refused};
use super::{Liveness, TransportConfig, TransportEvent};
use crate::daemon::limits;
use crate::daemon::node_log::NodeLog;
use crate::daemon::validate::{self, Frame};
use crate::daemon::wire;
use crate::node_event::FrameKind;
use maekawa_core::id::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Mutex, Notify};
use tokio_stream::wrappers::{ReceiverStream, WatchStream};
use tokio_stream::StreamExt;
use wire::peer_server::{Peer, PeerServer};

/// Acknowledgements leave a link at most this often (less on links with a short
/// `--suspect-after`): the latest one stands for every message before it, so the ones in
/// between are never written. An acknowledgement only lets the sender forget what it keeps
/// for a resend, so nothing waits for it; acknowledging every message instead doubled the
/// frames, write(2)s and wake-ups per message (BENCHMARKS.md, "CPU per message").
const ACK_EVERY: Duration = Duration::from_millis(10);

/// What the receiver remembers of one sender, across that sender's reconnects.
#[derive(Default)]
pub(super) struct Inbound {
    pub(super) incarnation: u64,
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
/// each sender, so a restarted server keeps deduplicating, and share the set of peers, which
/// membership changes alter while the node runs.
#[derive(Clone)]
pub struct PeerService {
    pub(super) me: NodeId,
    /// Set once the node has taken its incarnation: until then it answers only `Recall`s
    /// (as a process that remembers nothing) and refuses links.
    incarnation: Arc<std::sync::OnceLock<u64>>,
    /// This node's journal floor, which a Recall answer gives.
    pub(super) floor: Arc<AtomicU64>,
    /// What this node remembers of each node that ever opened a link here. Kept when the node
    /// is removed, so that a node removed and added again is still deduplicated (its
    /// process's links number on, see `Transport::numbered`).
    senders: Arc<std::sync::Mutex<BTreeMap<NodeId, Arc<Mutex<Inbound>>>>>,
    /// Every node of the cluster now, this one and its peers: who may open a link, and what
    /// frames are checked against. A change wakes every link, so a removed peer's ends.
    members: watch::Sender<Arc<BTreeSet<NodeId>>>,
    events: mpsc::Sender<TransportEvent>,
    liveness: Liveness,
    pub(super) gate: crate::tls::Gate,
    pub(super) log: NodeLog,
}

impl PeerService {
    /// A service that accepts links from `peers` and delivers their messages to `events`.
    pub fn new(cfg: &TransportConfig, events: mpsc::Sender<TransportEvent>) -> PeerService {
        let incarnation = Arc::new(std::sync::OnceLock::new());
        if cfg.incarnation > 0 {
            let _ = incarnation.set(cfg.incarnation);
        }
        let members = cfg.peers.iter().map(|(p, _)| *p).chain([cfg.me]).collect();
        PeerService {
            me: cfg.me,
            incarnation,
            floor: cfg.floor.clone(),
            senders: Arc::default(),
            members: watch::Sender::new(Arc::new(members)),
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

    /// `peer` joined the cluster: its links are accepted from now on (by every clone).
    pub fn add_peer(&self, peer: NodeId) {
        self.members
            .send_if_modified(|m| !m.contains(&peer) && Arc::make_mut(m).insert(peer));
    }

    /// `peer` left the cluster: its open link ends, and its new links are refused as an
    /// unknown node's. This node itself is never removed.
    pub fn remove_peer(&self, peer: NodeId) {
        if peer == self.me {
            return;
        }
        self.members
            .send_if_modified(|m| m.contains(&peer) && Arc::make_mut(m).remove(&peer));
    }

    /// Whether `node` is a peer now.
    fn is_peer(&self, node: NodeId) -> bool {
        node != self.me && self.members.borrow().contains(&node)
    }

    /// What this node remembers of peer `from`; refused for a node that is not a peer.
    pub(super) fn sender(&self, from: NodeId) -> Result<Arc<Mutex<Inbound>>, tonic::Status> {
        if !self.is_peer(from) {
            return Err(not_a_peer(from, self.me));
        }
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        Ok(senders.entry(from).or_default().clone())
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

    /// Takes the link of `hello`'s sender as its current one (ending the one before), after
    /// telling the driver of a new incarnation and of the sender's epoch; refuses the link of
    /// a process that is dead or that claims another's incarnation. Returns what this node
    /// remembers of the sender.
    async fn accept(
        &self,
        hello: &wire::Hello,
        superseded: Arc<Notify>,
    ) -> Result<Arc<Mutex<Inbound>>, tonic::Status> {
        let from = NodeId(hello.from);
        let state = self.sender(from)?;
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
        let stopping = |_| tonic::Status::unavailable("node is stopping");
        // On every link, before any of its messages (the lock is held until they may come),
        // and before the news of a new incarnation: a peer that is behind gets this node's
        // configuration before the Sync and the Floor that answer its restart.
        let epoch = TransportEvent::PeerEpoch {
            peer: from,
            epoch: hello.epoch,
        };
        self.events.send(epoch).await.map_err(stopping)?;
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
                addr: hello.addr.clone(),
            };
            self.events.send(news).await.map_err(stopping)?;
        }
        if let Some(older) = s.current.replace(superseded) {
            older.notify_one();
        }
        drop(s);
        Ok(state)
    }

    /// Reads `link`'s frames until it ends, is superseded by a newer link of the same sender,
    /// its sender is removed, or it sends a bad frame: delivers each new message once, in
    /// order, and acknowledges.
    async fn receive(
        self,
        link: InboundLink,
        mut frames: tonic::Streaming<wire::LinkFrame>,
        superseded: Arc<Notify>,
    ) {
        let (me, from) = (self.me, link.from);
        let mut members = self.members.subscribe();
        let incarnation = self.incarnation.get().copied().unwrap_or_default();
        let ack = |seq| wire::LinkAck { seq, incarnation };
        loop {
            let frame = tokio::select! {
                frame = frames.message() => Some(frame),
                // A newer link of the same sender took over: this one ends.
                () = superseded.notified() => return,
                // The peers changed: this link goes on if its sender is still one.
                _ = members.changed() => None,
            };
            if !members.borrow_and_update().contains(&from) {
                // Removed: not a bad frame, the sender is no longer anyone here.
                let _ = link.refuse.try_send(not_a_peer(from, me));
                return;
            }
            let Some(frame) = frame else { continue };
            let Ok(Some(frame)) = frame else { return };
            let checked = validate::check_frame(&frame, from, me, &members.borrow());
            let env = match checked {
                Ok(Frame::Message {
                    seq,
                    lock,
                    msg,
                    attachment,
                }) => Some((seq, lock, msg, attachment)),
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
            let Some((seq, lock, msg, attachment)) = env else {
                // A heartbeat: answered with the current acknowledgement.
                let _ = link.acks.send(ack(s.delivered));
                continue;
            };
            if seq > s.delivered {
                let delivered = TransportEvent::Message {
                    from,
                    lock,
                    msg,
                    attachment,
                };
                if self.events.send(delivered).await.is_err() {
                    return;
                }
                s.delivered = seq;
            }
            let _ = link.acks.send(ack(s.delivered));
        }
    }
}

/// The refusal of a node that is not (or no longer) a peer of `me`.
fn not_a_peer(node: NodeId, me: NodeId) -> tonic::Status {
    tonic::Status::permission_denied(format!("node {node} is not a peer of node {me}"))
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
        let superseded = Arc::new(Notify::new());
        let state = self.accept(&hello, superseded.clone()).await?;
        let (acks, acks_rx) = watch::channel(wire::LinkAck {
            seq: 0,
            incarnation,
        });
        // A bad frame ends the link with its reason, after the acknowledgements so far.
        let (refuse, refused) = mpsc::channel::<tonic::Status>(1);
        let link = InboundLink {
            from: NodeId(hello.from),
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
