//! Who has been heard from: when each peer was last heard from, and whether it is suspected
//! (`--suspect-after`), shared by a node's outgoing links and its peer service.
//!
//! It only keeps times and reports changes as [`TransportEvent::Suspicion`]; the transport
//! decides what counts as hearing, and the driver what a suspicion means.

use super::transport::TransportEvent;
use maekawa_core::id::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// When each peer was last heard from, and whether it is suspected: shared by a node's
/// [`super::transport::Transport`] (its acknowledgements on our links) and [`super::transport::PeerService`] (frames on its links
/// to us), so either can end a suspicion.
#[derive(Clone, Debug)]
pub struct Liveness {
    suspect_after: Duration,
    peers: Arc<std::sync::Mutex<BTreeMap<NodeId, Heard>>>,
}

#[derive(Debug)]
struct Heard {
    last: Instant,
    suspected: bool,
}

impl Liveness {
    /// Every peer counts as heard from now on; one silent for `suspect_after` is suspected.
    pub fn new(peers: impl IntoIterator<Item = NodeId>, suspect_after: Duration) -> Liveness {
        Liveness::heard_at(peers, suspect_after, Instant::now())
    }

    pub(crate) fn heard_at(
        peers: impl IntoIterator<Item = NodeId>,
        suspect_after: Duration,
        now: Instant,
    ) -> Liveness {
        Liveness {
            suspect_after,
            peers: Arc::new(std::sync::Mutex::new(
                peers
                    .into_iter()
                    .map(|p| {
                        (
                            p,
                            Heard {
                                last: now,
                                suspected: false,
                            },
                        )
                    })
                    .collect(),
            )),
        }
    }

    /// `peer` joined the cluster: its silence is watched from now on, as if it had just been
    /// heard. A peer already watched keeps its state.
    pub fn add_peer(&self, peer: NodeId) {
        self.table().entry(peer).or_insert(Heard {
            last: Instant::now(),
            suspected: false,
        });
    }

    /// `peer` left the cluster: it is never suspected again (nor heard: nothing is reported
    /// about it any more).
    pub fn remove_peer(&self, peer: NodeId) {
        self.table().remove(&peer);
    }

    /// How long a link may stay idle before it carries a heartbeat: a quarter of the suspicion
    /// timeout, so a heartbeat or two may be late or lost before a live peer is suspected.
    pub fn heartbeat_interval(&self) -> Duration {
        (self.suspect_after / 4).max(Duration::from_millis(1))
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<NodeId, Heard>> {
        // Nothing panics while holding it; a poisoned table is still a table.
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Something arrived from `peer` at `now`. Returns how long it was silent when that ends
    /// its suspicion.
    pub(crate) fn heard(&self, peer: NodeId, now: Instant) -> Option<Duration> {
        let mut table = self.table();
        let h = table.get_mut(&peer)?;
        let silent = now.saturating_duration_since(h.last);
        h.last = now;
        std::mem::take(&mut h.suspected).then_some(silent)
    }

    /// Peers silent for the suspicion timeout and not yet suspected: suspected from now on.
    pub(crate) fn newly_silent(&self, now: Instant) -> Vec<(NodeId, Duration)> {
        let mut out = Vec::new();
        for (peer, h) in self.table().iter_mut() {
            let silent = now.saturating_duration_since(h.last);
            if !h.suspected && silent >= self.suspect_after {
                h.suspected = true;
                out.push((*peer, silent));
            }
        }
        out.sort();
        out
    }

    /// Tells `events` that `peer` is heard again, if it was suspected.
    pub(crate) async fn heard_from(&self, peer: NodeId, events: &mpsc::Sender<TransportEvent>) {
        if let Some(silent) = self.heard(peer, Instant::now()) {
            let _ = events
                .send(TransportEvent::Suspicion {
                    peer,
                    suspected: false,
                    silent,
                })
                .await;
        }
    }
}

/// Suspects the peers that fell silent, until the driver stops listening.
pub(crate) async fn watch_silence(liveness: Liveness, events: mpsc::Sender<TransportEvent>) {
    // Checked several times per timeout, so a suspicion comes at most an eighth late.
    let mut tick = tokio::time::interval(liveness.heartbeat_interval() / 2);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for (peer, silent) in liveness.newly_silent(Instant::now()) {
            let news = TransportEvent::Suspicion {
                peer,
                suspected: true,
                silent,
            };
            if events.send(news).await.is_err() {
                return;
            }
        }
        if events.is_closed() {
            return;
        }
    }
}
