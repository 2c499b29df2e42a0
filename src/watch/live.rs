//! The live source of `maekawa watch`: one follower per daemon of the cluster file, each
//! reading the node's log lines as they are written (`Control.Events`, any certificate of the
//! cluster may read), merged into one feed for the pages.
//!
//! A daemon whose stream breaks (killed, stopped, unreachable) gets a `watch_down` line, and a
//! `watch_up` when the follower reaches it again (a new process then logs its `start`); the
//! follower tries again every half second. The last [`BACKLOG`] lines are kept, so a page that
//! opens late, or reconnects, starts from them instead of from nothing.

use super::own_line;
use crate::config::Config;
use crate::tls::Security;
use maekawa_core::id::NodeId;
use maekawa_wire as wire;
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// Lines kept for pages that open later.
pub const BACKLOG: usize = 20_000;
/// How long a follower waits before trying a daemon again.
const RETRY: Duration = Duration::from_millis(500);

/// The merged feed of every daemon's lines.
#[derive(Clone)]
pub struct Live {
    inner: Arc<Mutex<Feed>>,
}

struct Feed {
    backlog: VecDeque<Arc<str>>,
    tx: broadcast::Sender<Arc<str>>,
    /// The last [`BACKLOG`] `enter_cs` lines seen, for `/api/entries`.
    entries: VecDeque<Value>,
    /// Each node's newest `start` line, given first to a new page: the backlog may have lost
    /// it, and it tells which process and quorum the node has.
    starts: std::collections::BTreeMap<u64, Arc<str>>,
}

impl Live {
    /// Starts a follower per node of `config`, talking as `security` says. Needs a runtime.
    pub fn start(config: &Config, security: &Security) -> Live {
        let (tx, _) = broadcast::channel(4096);
        let live = Live {
            inner: Arc::new(Mutex::new(Feed {
                backlog: VecDeque::new(),
                tx,
                entries: VecDeque::new(),
                starts: Default::default(),
            })),
        };
        for node in &config.nodes {
            let follower = Follower {
                node: node.id,
                addr: node.addr.clone(),
                security: security.clone(),
                live: live.clone(),
            };
            tokio::spawn(follower.run());
        }
        live
    }

    /// Each node's newest `start` line and the kept lines, then every line from then on (no
    /// gap, no repeat between the two).
    pub fn subscribe(&self) -> (Vec<Arc<str>>, broadcast::Receiver<Arc<str>>) {
        let feed = self.feed();
        let kept = feed
            .starts
            .values()
            .chain(feed.backlog.iter())
            .cloned()
            .collect();
        (kept, feed.tx.subscribe())
    }

    /// The CS entries seen lately (the last [`BACKLOG`]), as a JSON array.
    pub fn entries_json(&self) -> String {
        let entries: Vec<Value> = self.feed().entries.iter().cloned().collect();
        Value::Array(entries).to_string()
    }

    fn feed(&self) -> std::sync::MutexGuard<'_, Feed> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds one line (a node's, or the watch's own) to the feed.
    fn push(&self, line: &str) {
        let line: Arc<str> = Arc::from(line.trim_end());
        if line.is_empty() {
            return;
        }
        // Parsed outside the lock, and only the lines that may be entries or starts.
        let parsed = (line.contains("\"enter_cs\"") || line.contains("\"start\""))
            .then(|| serde_json::from_str::<Value>(&line).ok())
            .flatten();
        let mut feed = self.feed();
        match parsed.as_ref().and_then(|v| v["event"].as_str()) {
            Some("enter_cs") => {
                let v = parsed.as_ref().expect("parsed, matched above");
                if feed.entries.len() == BACKLOG {
                    feed.entries.pop_front();
                }
                feed.entries.push_back(json!({
                    "node": v["node"],
                    "entry": v["entry"],
                    "timestamp": v["timestamp"],
                    "token": v["token"],
                    "lock": v.get("lock").cloned().unwrap_or(json!("cs")),
                }));
            }
            Some("start") => {
                if let Some(node) = parsed.as_ref().and_then(|v| v["node"].as_u64()) {
                    feed.starts.insert(node, line.clone());
                }
            }
            _ => {}
        }
        if feed.backlog.len() == BACKLOG {
            feed.backlog.pop_front();
        }
        feed.backlog.push_back(line.clone());
        let _ = feed.tx.send(line);
    }

    fn push_own(&self, node: NodeId, event: &str, extra: Value) {
        self.push(&own_line(node, SystemTime::now(), event, extra).to_string());
    }
}

/// Follows one daemon for as long as the watch runs.
struct Follower {
    node: NodeId,
    addr: String,
    security: Security,
    live: Live,
}

impl Follower {
    async fn run(self) {
        // None: not known yet; Some(true): up; Some(false): down (said once per outage).
        let mut up: Option<bool> = None;
        loop {
            let why = match self.follow(&mut up).await {
                Ok(()) => "the daemon ended the stream (stopped)".to_string(),
                Err(why) => why,
            };
            if up != Some(false) {
                self.live
                    .push_own(self.node, "watch_down", json!({ "why": why }));
                up = Some(false);
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    /// Reads the node's lines until the stream ends.
    async fn follow(&self, up: &mut Option<bool>) -> Result<(), String> {
        let endpoint = self
            .security
            .endpoint(&self.addr)
            .map_err(|e| e.to_string())?;
        let channel = endpoint
            .connect_timeout(Duration::from_secs(2))
            .http2_keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(Duration::from_secs(2))
            .keep_alive_while_idle(true)
            .connect()
            .await
            .map_err(|e| format!("cannot reach {}: {e}", self.addr))?;
        let mut client = wire::control_client::ControlClient::new(channel);
        let mut stream = client
            .events(wire::EventsRequest {})
            .await
            .map_err(|s| s.message().to_string())?
            .into_inner();
        self.live.push_own(self.node, "watch_up", json!({}));
        *up = Some(true);
        while let Some(batch) = stream
            .message()
            .await
            .map_err(|s| s.message().to_string())?
        {
            if batch.dropped > 0 {
                self.live.push_own(
                    self.node,
                    "watch_dropped",
                    json!({ "lines": batch.dropped }),
                );
            }
            for line in String::from_utf8_lossy(&batch.lines).lines() {
                self.live.push(line);
            }
        }
        Ok(())
    }
}
