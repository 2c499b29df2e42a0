//! Leader election on named locks (docs/CLIENTS.md, "Leader election"): a candidate is a
//! session waiting for the lock `NAME` whose client label is its value; the leader is the
//! holder. [`campaign`] waits to lead; [`LeaderWatch`] follows who leads.
//!
//! Nothing new crosses the wire: campaigning is [`LockClient::lock`] with the value as the
//! label, and watching polls `Lock.List` on every node of the cluster file, because a node
//! knows only the holders among its own sessions. Of the holders seen, the one with the
//! largest fencing token leads (tokens of one lock grow with every holder, so during a
//! hand-over the newer holder wins, and a leader seen late never replaces a newer one). A
//! leader that comes and goes within one poll interval may be missed; a watch never goes back.

use crate::client::{LockClient, LockError, LockGuard, LockOptions};
use crate::config::Config;
use crate::tls::Security;
use maekawa_core::id::NodeId;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often [`LeaderWatch`] asks every node, unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
/// How long one node may take to answer a poll before it counts as showing no leader.
const POLL_DEADLINE: Duration = Duration::from_secs(1);

/// Who leads an election, as a watch saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The leader's value (its session's client label).
    pub value: String,
    /// The node whose session leads.
    pub node: NodeId,
    /// The fencing token of its term: larger for every later leader.
    pub token: u64,
    /// The session's id at that node.
    pub session: u64,
}

/// Waits (for ever) until this candidate leads election `name` with `value`, through
/// `client`'s daemon, and returns the held lock: the term lasts until it is released or lost
/// ([`LockGuard::lost`]).
pub async fn campaign(
    client: &mut LockClient,
    name: &str,
    value: &str,
) -> Result<LockGuard, LockError> {
    client
        .lock(name, LockOptions::default().client_label(value))
        .await
}

/// Follows who leads election `name` across every node of a cluster file.
#[derive(Debug)]
pub struct LeaderWatch {
    seen: mpsc::Receiver<(NodeId, Option<Leader>)>,
    current: Vec<(NodeId, Option<Leader>)>,
    last: Option<u64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl LeaderWatch {
    /// Starts polling every node of `config` every `interval`, as `security` says. Nodes that
    /// do not answer are asked again at the next poll. Needs a tokio runtime.
    pub fn start(
        config: &Config,
        name: &str,
        security: &Security,
        interval: Duration,
    ) -> LeaderWatch {
        let (tx, seen) = mpsc::channel(64);
        let tasks = config
            .nodes
            .iter()
            .map(|n| {
                let poll = Poll {
                    node: n.id,
                    config: config.clone(),
                    name: name.to_string(),
                    security: security.clone(),
                    interval,
                    tx: tx.clone(),
                };
                tokio::spawn(poll.run())
            })
            .collect();
        LeaderWatch {
            seen,
            current: config.nodes.iter().map(|n| (n.id, None)).collect(),
            last: None,
            tasks,
        }
    }

    /// The next leader: the current one at the first call (as soon as one is seen), then each
    /// new one, in the order of their terms.
    pub async fn next(&mut self) -> Leader {
        loop {
            let Some(first) = self.seen.recv().await else {
                // No node to poll: nobody will ever lead.
                return std::future::pending().await;
            };
            // Every report that waited, oldest first, so that a caller who comes back after
            // a long while judges by each node's latest answer, not by its first.
            let mut reports = vec![first];
            while let Ok(r) = self.seen.try_recv() {
                reports.push(r);
            }
            for (node, leader) in reports {
                if let Some(slot) = self.current.iter_mut().find(|(n, _)| *n == node) {
                    slot.1 = leader;
                }
            }
            let newest = self
                .current
                .iter()
                .filter_map(|(_, l)| l.as_ref())
                .max_by_key(|l| l.token);
            if let Some(l) = newest.filter(|l| self.last.is_none_or(|t| l.token > t)) {
                self.last = Some(l.token);
                return l.clone();
            }
        }
    }
}

impl Drop for LeaderWatch {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One node's poller.
struct Poll {
    node: NodeId,
    config: Config,
    name: String,
    security: Security,
    interval: Duration,
    tx: mpsc::Sender<(NodeId, Option<Leader>)>,
}

impl Poll {
    /// Asks the node every interval who of its sessions holds the lock, and reports it
    /// (`None`: nobody there, or no answer).
    async fn run(self) {
        let mut client: Option<LockClient> = None;
        loop {
            if client.is_none() {
                client = tokio::time::timeout(
                    POLL_DEADLINE,
                    LockClient::connect_node_with(&self.config, self.node, &self.security),
                )
                .await
                .ok()
                .and_then(Result::ok);
            }
            let mut seen = None;
            if let Some(c) = client.as_mut() {
                match tokio::time::timeout(POLL_DEADLINE, c.list()).await {
                    Ok(Ok(locks)) => {
                        seen = locks
                            .locks
                            .into_iter()
                            .find(|l| l.name == self.name && l.holder.is_some())
                            .and_then(|l| {
                                let holder = l.holder?;
                                Some(Leader {
                                    value: holder.client,
                                    node: locks.node,
                                    token: l.token?,
                                    session: holder.session,
                                })
                            });
                    }
                    _ => client = None,
                }
            }
            if self.tx.send((self.node, seen)).await.is_err() {
                return;
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}
