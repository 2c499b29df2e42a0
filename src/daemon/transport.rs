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
//! The set of peers may change while the node runs (membership changes): a peer is added
//! ([`Transport::add_peer`], [`PeerService::add_peer`]), moved to a new address
//! ([`Transport::readdress`]) or removed ([`Transport::remove_peer`],
//! [`PeerService::remove_peer`]). Every Hello carries the sender's configuration epoch, which
//! the receiver reports for every link it accepts ([`TransportEvent::PeerEpoch`]), and a
//! message may carry an attachment (a configuration) in its Envelope's `config`.
//!
//! The listener (an incoming-connection stream) and the connector (how to reach an address)
//! are passed in, so the daemon can run over a simulated network too. prost types never leave
//! this module: the rest of the crate sees [`Message`] and [`TransportEvent`].
//!
//! The outgoing links are `link.rs`, the receiving service `service.rs`.

use maekawa_core::id::NodeId;
use maekawa_core::member::LockName;
use maekawa_core::protocol::{Message, MsgKind};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio::task::{AbortHandle, JoinSet};
use tonic::transport::Channel;

use crate::daemon::liveness::watch_silence;
pub use crate::daemon::liveness::Liveness;
use crate::daemon::node_log::NodeLog;
use crate::daemon::wire;
mod answers;
mod link;
mod service;
pub use answers::connect_failed;
use link::{Link, LinkCommon, LinkInputs};
pub use service::PeerService;

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
        /// What came with it ([`Transport::send_with`]): None when nothing did.
        attachment: Option<Vec<u8>>,
    },
    /// `peer` opened a link to us and its Hello says its configuration epoch is `epoch`.
    /// Comes for every link accepted (not only a new incarnation's), after its
    /// [`TransportEvent::PeerIncarnation`] if any and before any message of that link, so that
    /// a node can answer a peer with an older configuration with its own.
    PeerEpoch {
        /// The peer.
        peer: NodeId,
        /// Its configuration epoch (0: the cluster file's).
        epoch: u64,
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
        /// Where it listens, as its Hello says ("" when it does not say).
        addr: String,
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
    /// The peer moved ([`Transport::readdress`]): the link is made again to its new address.
    #[error("the peer moved to {0}")]
    Moved(String),
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

/// Who this node is on the wire and who its peers are at start.
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
    /// Where this node listens, sent in every Hello: a new host for a node id is reached at
    /// its new address as soon as it greets its peers (`maekawa cluster replace` records it).
    pub listen: String,
    /// This process's token floor (its journal's: no token it used or knows of is larger), kept
    /// current by the driver and sent in every Hello. A restarted process starts from its
    /// journal's, which is what lets a peer free its dead votes safely (DESIGN.md).
    pub floor: Arc<AtomicU64>,
    /// The epoch of this node's cluster configuration (0: the cluster file's), kept current by
    /// the driver (or [`Transport::set_epoch`]) and sent in every Hello: a peer that knows a
    /// newer configuration answers with it.
    pub epoch: Arc<AtomicU64>,
    /// Every other node this node talks to at start, with its address (membership changes
    /// add and remove peers later).
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

/// A message waiting in a link's outbox: its lock, the message, and what travels with it.
type Outgoing = (LockName, Message, Option<Arc<[u8]>>);

/// The sending half held by the driver: one outbox per peer, drained by that peer's link task.
/// Peers come and go while the node runs (membership changes): [`Transport::add_peer`],
/// [`Transport::readdress`], [`Transport::remove_peer`].
pub struct Transport {
    links: BTreeMap<NodeId, PeerLink>,
    /// What every link is started with, kept so that a peer added later gets the same.
    common: Arc<LinkCommon>,
    closing: watch::Sender<bool>,
    tasks: JoinSet<()>,
    /// The links of removed peers still delivering what was queued to them (for at most
    /// [`REMOVAL_GRACE`]): ended at once if the peer is added again.
    retiring: BTreeMap<NodeId, AbortHandle>,
    /// The last sequence number each removed peer's link used: a link made again to the same
    /// peer numbers on from there, so the peer, which remembers what it delivered of this
    /// process, neither drops its new messages nor delivers an old one twice.
    numbered: BTreeMap<NodeId, u64>,
    watchdog: tokio::task::JoinHandle<()>,
}

/// The driver's handles on one peer's link task.
struct PeerLink {
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// The last sequence number handed out on this link (the link numbers its outbox in order).
    numbered: AtomicU64,
    kick: Arc<Notify>,
    /// Where the link connects: a change drops a link that is up and reconnects.
    addr: watch::Sender<String>,
    /// Sent when the peer is removed: the link gets [`REMOVAL_GRACE`] to deliver its queue.
    retire: oneshot::Sender<()>,
    task: AbortHandle,
}

/// How long the link of a removed peer may go on delivering what was queued to it before it
/// is ended: long enough for a live peer to take its last messages (a Config telling it of its
/// removal, say), short enough that a dead one costs nothing for long.
pub const REMOVAL_GRACE: Duration = Duration::from_secs(2);

impl Drop for Transport {
    /// The task that suspects silent peers ends with the transport, also when the node's task
    /// is dropped mid-batch (a simulated `kill -9`); the link tasks end with `tasks`.
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
        let watchdog = tokio::spawn(watch_silence(cfg.liveness.clone(), events.clone()));
        let common = Arc::new(LinkCommon {
            me: cfg.me,
            incarnation: cfg.incarnation,
            boot: cfg.boot,
            awaits_floor: cfg.awaits_floor,
            floor: cfg.floor.clone(),
            epoch: cfg.epoch.clone(),
            listen: cfg.listen.clone(),
            liveness: cfg.liveness.clone(),
            drop_resend: cfg.drop_resend_on_reconnect,
            connector,
            events,
            closing: closing_rx,
        });
        let mut transport = Transport {
            links: BTreeMap::new(),
            common,
            closing,
            tasks: JoinSet::new(),
            retiring: BTreeMap::new(),
            numbered: BTreeMap::new(),
            watchdog,
        };
        for (peer, addr) in &cfg.peers {
            transport.add_peer(*peer, addr.clone());
        }
        transport
    }

    /// Starts a link to `peer` at `addr`, a node that joined the cluster while this one runs;
    /// its silence is watched from now on (it counts as just heard). A peer that already has a
    /// link is only [`readdress`](Transport::readdress)ed. A peer removed before is linked
    /// anew: what was still queued to it is dropped, and the new link numbers its messages on
    /// from the old one's.
    pub fn add_peer(&mut self, peer: NodeId, addr: String) {
        if self.links.contains_key(&peer) {
            return self.readdress(peer, addr);
        }
        self.reap();
        if let Some(old) = self.retiring.remove(&peer) {
            old.abort();
        }
        let numbered = self.numbered.remove(&peer).unwrap_or(0);
        let (outbox, outbox_rx) = mpsc::unbounded_channel();
        let kick = Arc::new(Notify::new());
        let (addr, addr_rx) = watch::channel(addr);
        let (retire, retired) = oneshot::channel();
        let link = Link::new(
            self.common.clone(),
            peer,
            numbered + 1,
            LinkInputs {
                outbox: outbox_rx,
                kick: kick.clone(),
                addr: addr_rx,
            },
        );
        let task = self.tasks.spawn(link.run(retired));
        self.common.liveness.add_peer(peer);
        self.links.insert(
            peer,
            PeerLink {
                outbox,
                numbered: AtomicU64::new(numbered),
                kick,
                addr,
                retire,
                task,
            },
        );
    }

    /// `peer` is now reached at `addr` (it moved): the link's next connect goes there, and a
    /// link up to the old address is dropped and made again to the new one at once. Nothing
    /// queued is lost: the unacknowledged are resent, as after any reconnect.
    pub fn readdress(&self, peer: NodeId, addr: String) {
        let Some(link) = self.links.get(&peer) else {
            return;
        };
        let moved = link.addr.send_if_modified(|old| {
            let moved = *old != addr;
            if moved {
                *old = addr;
            }
            moved
        });
        if moved {
            link.kick.notify_one();
        }
    }

    /// `peer` left the cluster: nothing more is queued to it ([`Transport::send`] to it does
    /// nothing), its silence is no longer watched, and its link ends once what was queued is
    /// delivered, or after [`REMOVAL_GRACE`] at most.
    pub fn remove_peer(&mut self, peer: NodeId) {
        let Some(link) = self.links.remove(&peer) else {
            return;
        };
        self.common.liveness.remove_peer(peer);
        self.numbered
            .insert(peer, link.numbered.load(Ordering::Relaxed));
        let _ = link.retire.send(());
        self.retiring.insert(peer, link.task);
        self.reap();
    }

    /// The peers this node links to now.
    pub fn peers(&self) -> Vec<NodeId> {
        self.links.keys().copied().collect()
    }

    /// This node's configuration epoch changed: every Hello from now on says `epoch`, so a
    /// peer with an older configuration learns of the newer one. (The same number as the
    /// [`TransportConfig::epoch`] the transport was started with.)
    pub fn set_epoch(&self, epoch: u64) {
        self.common.epoch.store(epoch, Ordering::Relaxed);
    }

    /// Forgets link tasks that ended (removed peers' links), so that peers coming and going
    /// do not pile them up.
    fn reap(&mut self) {
        while self.tasks.try_join_next().is_some() {}
        self.retiring.retain(|_, task| !task.is_finished());
    }

    /// Queues `msg` for `to`; it will be delivered once, in order, whenever `to` is reachable.
    pub fn send(&self, to: NodeId, lock: LockName, msg: Message) {
        self.send_with(to, lock, msg, None);
    }

    /// Queues `msg` for `to` with `attachment` (a cluster configuration, say), which travels in
    /// the same frame and arrives as [`TransportEvent::Message`]'s `attachment`. Nothing is
    /// queued to a node that is not a peer (never was, or was removed).
    pub fn send_with(
        &self,
        to: NodeId,
        lock: LockName,
        msg: Message,
        attachment: Option<Arc<[u8]>>,
    ) {
        if let Some(link) = self.links.get(&to) {
            // A closed outbox means the link task ended at shutdown: nothing left to deliver to.
            if link.outbox.send((lock, msg, attachment)).is_ok() {
                link.numbered.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// `peer` is reachable again (it just opened a link to us): if our link to it is waiting
    /// out a reconnect backoff, try now rather than up to a second later.
    pub fn kick(&self, peer: NodeId) {
        if let Some(link) = self.links.get(&peer) {
            link.kick.notify_one();
        }
    }

    /// Finishes in-flight sends: waits until every queued message is acknowledged, or until
    /// `deadline` passes (a peer that is down cannot acknowledge). Returns true when all were.
    pub async fn close(mut self, deadline: Duration) -> bool {
        self.watchdog.abort();
        let _ = self.closing.send(true);
        self.links.clear();
        let all = async { while self.tasks.join_next().await.is_some() {} };
        let done = tokio::time::timeout(deadline, all).await.is_ok();
        self.tasks.abort_all();
        done
    }
}

/// An Envelope as the frame that carries it.
fn frame(env: wire::Envelope) -> wire::LinkFrame {
    wire::LinkFrame {
        body: Some(wire::link_frame::Body::Envelope(env)),
    }
}

/// The Envelope of an outbox entry: the message numbered `seq`, its attachment in `config`.
fn envelope(seq: u64, (lock, msg, attachment): &Outgoing) -> wire::Envelope {
    let mut env = to_envelope(seq, lock, msg);
    if let Some(attachment) = attachment {
        env.config = attachment.to_vec();
    }
    env
}

/// `msg` about `lock` as the Envelope numbered `seq` on its link, without attachment (the
/// inverse of `validate::check_envelope`, which its tests check).
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
        MsgKind::Config => wire::Kind::Config,
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
        req_epoch: msg.req.epoch.0,
        config: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
