//! One outgoing link: this node's long-lived `Link` stream to one peer, kept up for as long as
//! the peer is one (reconnecting with capped backoff), carrying the peer's outbox in order and
//! resending what the peer has not acknowledged after every reconnect.

use super::{envelope, frame, Connector, LinkDown, Liveness, Outgoing, TransportEvent};
use crate::daemon::wire;
use maekawa_core::id::NodeId;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch, Notify};
use tokio_stream::wrappers::ReceiverStream;
use wire::peer_client::PeerClient;

const MIN_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(1000);

/// What every link of a node shares: who this node is on the wire, how to reach an address,
/// and where events go. Kept by the [`super::Transport`] so that a peer added later gets a
/// link like the others.
pub(super) struct LinkCommon {
    pub(super) me: NodeId,
    pub(super) incarnation: u64,
    pub(super) boot: u64,
    pub(super) awaits_floor: bool,
    pub(super) floor: Arc<AtomicU64>,
    pub(super) epoch: Arc<AtomicU64>,
    /// Where this node listens (sent in every Hello).
    pub(super) listen: String,
    pub(super) liveness: Liveness,
    /// The injected defect: a reconnect forgets the unacknowledged.
    pub(super) drop_resend: bool,
    pub(super) connector: Connector,
    pub(super) events: mpsc::Sender<TransportEvent>,
    /// True once the transport closes: wakes a link waiting out a backoff.
    pub(super) closing: watch::Receiver<bool>,
}

/// What the transport hands one link: its outbox, a kick that ends a backoff, its address.
pub(super) struct LinkInputs {
    pub(super) outbox: mpsc::UnboundedReceiver<Outgoing>,
    pub(super) kick: Arc<Notify>,
    /// Where the peer is reached; it changes when the peer moves.
    pub(super) addr: watch::Receiver<String>,
}

/// One outgoing link's task and what it keeps across reconnects.
pub(super) struct Link {
    common: Arc<LinkCommon>,
    peer: NodeId,
    outbox: mpsc::UnboundedReceiver<Outgoing>,
    kick: Arc<Notify>,
    addr: watch::Receiver<String>,
    closing: watch::Receiver<bool>,
    /// The sequence number of the next message taken from the outbox.
    next_seq: u64,
    unacked: VecDeque<wire::Envelope>,
    /// False once the outbox is closed: the transport closes, or the peer was removed.
    outbox_open: bool,
    backoff: Duration,
    /// Whether the link is up now (its loss is then a `PeerDown`).
    was_up: bool,
    /// Whether this link was ever up: a connect is then a reconnect.
    ever_up: bool,
}

impl Link {
    /// The link to `peer`, numbering its messages from `first_seq`.
    pub(super) fn new(
        common: Arc<LinkCommon>,
        peer: NodeId,
        first_seq: u64,
        inputs: LinkInputs,
    ) -> Link {
        let closing = common.closing.clone();
        Link {
            common,
            peer,
            outbox: inputs.outbox,
            kick: inputs.kick,
            addr: inputs.addr,
            closing,
            next_seq: first_seq,
            unacked: VecDeque::new(),
            outbox_open: true,
            backoff: MIN_BACKOFF,
            was_up: false,
            ever_up: false,
        }
    }

    /// Runs the link until everything queued is delivered and the outbox is closed, or, once
    /// `retired` says the peer was removed, for [`super::REMOVAL_GRACE`] at most.
    pub(super) async fn run(self, retired: oneshot::Receiver<()>) {
        let grace = async {
            match retired.await {
                Ok(()) => tokio::time::sleep(super::REMOVAL_GRACE).await,
                // The transport is gone without removing the peer: its close decides.
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.run_until_done() => {}
            () = grace => {}
        }
    }

    /// Connect, send Hello, resend the unacknowledged, then stream the outbox; on any error,
    /// back off and do it again.
    async fn run_until_done(mut self) {
        loop {
            self.pull_queued();
            if self.finished() {
                return;
            }
            let reason = match self.connect_and_stream().await {
                Ok(()) => return,
                Err(reason) => reason,
            };
            let moved = matches!(reason, LinkDown::Moved(_));
            if std::mem::take(&mut self.was_up) {
                let down = TransportEvent::PeerDown {
                    peer: self.peer,
                    reason: reason.to_string(),
                };
                let _ = self.common.events.send(down).await;
            }
            if self.finished() {
                return;
            }
            if moved {
                // The new address is tried at once.
                self.backoff = MIN_BACKOFF;
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.backoff) => {}
                _ = self.closing.changed() => {}
                _ = self.kick.notified() => self.backoff = MIN_BACKOFF,
            }
            self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Numbers whatever is queued, so a shutdown with nothing to say ends at once.
    fn pull_queued(&mut self) {
        while self.outbox_open {
            match self.outbox.try_recv() {
                Ok(out) => {
                    self.number(&out);
                }
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => self.outbox_open = false,
            }
        }
    }

    /// Numbers `out`, keeps it until acknowledged, and returns the frame to send.
    fn number(&mut self, out: &Outgoing) -> wire::LinkFrame {
        let env = envelope(self.next_seq, out);
        self.next_seq += 1;
        self.unacked.push_back(env.clone());
        frame(env)
    }

    /// Nothing more will be queued (the transport closes, or the peer was removed) and
    /// everything queued was acknowledged.
    fn finished(&self) -> bool {
        !self.outbox_open && self.unacked.is_empty()
    }

    /// One connection: open the call to the peer's current address, resend the
    /// unacknowledged, then stream the outbox and take acknowledgements until the link breaks,
    /// the peer moves, or the link is [`finished`](Link::finished) (`Ok`).
    async fn connect_and_stream(&mut self) -> Result<(), LinkDown> {
        let target = self.addr.borrow_and_update().clone();
        let (frames, mut acks) = tokio::select! {
            opened = open(&self.common, self.peer, target) => opened?,
            to = moved(&mut self.addr) => return Err(LinkDown::Moved(to)),
        };
        let gone = |_| LinkDown::StreamClosed;
        let common = self.common.clone();
        let (peer, events, liveness) = (self.peer, &common.events, &common.liveness);
        // The peer's server answered: it lives.
        liveness.heard_from(peer, events).await;
        if common.drop_resend && std::mem::replace(&mut self.ever_up, true) {
            self.unacked.clear();
        }
        for env in self.unacked.iter() {
            frames.send(frame(env.clone())).await.map_err(gone)?;
        }
        self.was_up = true;
        self.backoff = MIN_BACKOFF;
        let _ = events.send(TransportEvent::PeerUp { peer }).await;
        let mut heartbeat = tokio::time::interval(liveness.heartbeat_interval());
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.reset();
        let mut sent_since_tick = !self.unacked.is_empty();
        loop {
            if self.finished() {
                return Ok(());
            }
            tokio::select! {
                ack = acks.message() => match ack {
                    Ok(Some(ack)) => {
                        liveness.heard_from(peer, events).await;
                        while self.unacked.front().is_some_and(|e| e.seq <= ack.seq) {
                            self.unacked.pop_front();
                        }
                    }
                    Ok(None) => return Err(LinkDown::PeerClosed),
                    Err(status) => return Err(LinkDown::Status(status.message().to_string())),
                },
                out = self.outbox.recv(), if self.outbox_open => match out {
                    Some(out) => {
                        let frame = self.number(&out);
                        frames.send(frame).await.map_err(gone)?;
                        sent_since_tick = true;
                    }
                    None => self.outbox_open = false,
                },
                _ = heartbeat.tick() => {
                    // Only on a link idle since the last tick; a full queue (a peer that does
                    // not read) needs no heartbeat on top.
                    if !std::mem::take(&mut sent_since_tick) {
                        let _ = frames.try_send(wire::LinkFrame {
                            body: Some(wire::link_frame::Body::Heartbeat(wire::Heartbeat {})),
                        });
                    }
                }
                _ = self.closing.changed() => {}
                to = moved(&mut self.addr) => return Err(LinkDown::Moved(to)),
            }
        }
    }
}

/// Resolves with the peer's new address when it moves; never once the transport forgot the
/// peer (nothing can move it then).
async fn moved(addr: &mut watch::Receiver<String>) -> String {
    match addr.changed().await {
        Ok(()) => addr.borrow().clone(),
        Err(_) => std::future::pending().await,
    }
}

/// Opens the call to `peer` at `addr` with this node's Hello: the frames to send on it, and
/// the acknowledgements that come back.
async fn open(
    common: &LinkCommon,
    peer: NodeId,
    addr: String,
) -> Result<
    (
        mpsc::Sender<wire::LinkFrame>,
        tonic::Streaming<wire::LinkAck>,
    ),
    LinkDown,
> {
    let channel = (common.connector)(addr).await?;
    let mut client = PeerClient::new(channel);
    let (frames, frames_rx) = mpsc::channel::<wire::LinkFrame>(1024);
    // Hello goes first and is already queued when the call starts: the server reads it
    // before it answers with the response headers the call waits for.
    let hello = wire::LinkFrame {
        body: Some(wire::link_frame::Body::Hello(wire::Hello {
            from: common.me.0,
            to: peer.0,
            incarnation: common.incarnation,
            token: common.floor.load(Ordering::Relaxed),
            boot: common.boot,
            awaits_floor: common.awaits_floor,
            epoch: common.epoch.load(Ordering::Relaxed),
            addr: common.listen.clone(),
        })),
    };
    frames
        .send(hello)
        .await
        .map_err(|_| LinkDown::StreamClosed)?;
    let response = client
        .link(ReceiverStream::new(frames_rx))
        .await
        .map_err(|s| LinkDown::Status(s.message().to_string()))?;
    Ok((frames, response.into_inner()))
}
