//! Recalling an incarnation: a node that starts without its incarnation file (a first start,
//! a lost disk, a new host for the id) asks every peer what it remembers of it before it takes
//! one, so its new incarnation is larger than any its peers knew (DESIGN.md, "A lost disk").
//! Without this the new process would be incarnation 1 again, which its peers take for the
//! old process: they would drop its messages as already delivered and never re-vote.
//!
//! A peer where nothing listens runs no process, so it remembers nothing: it needs no answer.
//! A peer that cannot be reached at all (cut off, or its certificate refused) may remember; if
//! one stays so for the whole window, the incarnation also exceeds the wall clock's seconds,
//! which no counted incarnation reaches, and a peer that still sees a clash refuses the link
//! (the Hello's `boot`) with a line that says to restart.

use super::transport::{Connector, LinkDown};
use super::wire;
use maekawa_core::id::NodeId;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::task::JoinSet;
use wire::peer_client::PeerClient;

/// How long a start waits for the peers that can be neither asked nor found absent.
pub const RECALL_WINDOW: Duration = Duration::from_secs(2);

/// Between two tries at a peer that could not be asked.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// What the peers remembered, and the incarnation that follows from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recalled {
    /// The newest incarnation of this node any peer knew (0: none).
    pub seen: u64,
    /// Peers that answered.
    pub answered: Vec<NodeId>,
    /// Peers where nothing listened.
    pub no_process: Vec<NodeId>,
    /// Peers that could not be asked within the window.
    pub unreachable: Vec<NodeId>,
}

impl Recalled {
    /// The incarnation to take: one more than any peer knew, and, when some peer could not be
    /// asked, at least the wall clock's seconds at `now`.
    pub fn incarnation(&self, now: SystemTime) -> u64 {
        let next = self.seen + 1;
        if self.unreachable.is_empty() {
            next
        } else {
            let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            next.max(secs)
        }
    }
}

/// What one peer said.
enum Answer {
    Seen(u64),
    NoProcess,
    Unreachable,
}

/// Asks every peer of `peers` at once, each until it answers, nothing listens there, or
/// `window` passes.
pub async fn recall(
    me: NodeId,
    peers: &[(NodeId, String)],
    connector: &Connector,
    window: Duration,
) -> Recalled {
    let deadline = tokio::time::Instant::now() + window;
    let mut asks = JoinSet::new();
    for (peer, addr) in peers.iter().cloned() {
        let connector = connector.clone();
        asks.spawn(async move {
            let answer = ask_until(me, peer, &addr, &connector, deadline).await;
            (peer, answer)
        });
    }
    let mut recalled = Recalled::default();
    while let Some(Ok((peer, answer))) = asks.join_next().await {
        match answer {
            Answer::Seen(k) => {
                recalled.seen = recalled.seen.max(k);
                recalled.answered.push(peer);
            }
            Answer::NoProcess => recalled.no_process.push(peer),
            Answer::Unreachable => recalled.unreachable.push(peer),
        }
    }
    for list in [
        &mut recalled.answered,
        &mut recalled.no_process,
        &mut recalled.unreachable,
    ] {
        list.sort();
    }
    recalled
}

async fn ask_until(
    me: NodeId,
    peer: NodeId,
    addr: &str,
    connector: &Connector,
    deadline: tokio::time::Instant,
) -> Answer {
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return Answer::Unreachable;
        }
        match tokio::time::timeout(left, ask(me, peer, addr, connector)).await {
            Ok(Ok(seen)) => return Answer::Seen(seen),
            Ok(Err(LinkDown::Refused(_))) => return Answer::NoProcess,
            Ok(Err(_)) => {}
            Err(_) => return Answer::Unreachable,
        }
        tokio::time::sleep(RETRY_EVERY.min(left)).await;
    }
}

async fn ask(me: NodeId, peer: NodeId, addr: &str, connector: &Connector) -> Result<u64, LinkDown> {
    let channel = connector(addr.to_string()).await?;
    let reply = PeerClient::new(channel)
        .recall(wire::RecallRequest {
            from: me.0,
            to: peer.0,
        })
        .await
        .map_err(|s| LinkDown::Status(s.message().to_string()))?;
    Ok(reply.into_inner().incarnation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_incarnation_follows_the_newest_one_recalled() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut r = Recalled::default();
        assert_eq!(r.incarnation(now), 1, "nobody knew it: a first start");
        r.seen = 6;
        r.answered = vec![NodeId(0)];
        assert_eq!(r.incarnation(now), 7);
        r.unreachable = vec![NodeId(2)];
        assert_eq!(r.incarnation(now), 1_800_000_000, "above any counted one");
    }
}
