//! The Rust client of the `Lock` service every daemon serves: take a named lock, hold it for
//! as long as a session lives, release it, and list the locks a node knows.
//!
//! ```no_run
//! # async fn example() -> Result<(), maekawa_client::LockError> {
//! use maekawa_client::{LockClient, LockOptions};
//! use std::time::Duration;
//!
//! let mut client = LockClient::connect("127.0.0.1:50051").await?;
//! let mut guard = client
//!     .lock("counter", LockOptions::default().timeout(Duration::from_secs(5)))
//!     .await?;
//! println!("holding {} with fencing token {}", guard.name(), guard.token());
//! tokio::select! {
//!     lost = guard.lost() => return Err(lost),   // the session broke: stop using the resource
//!     () = tokio::time::sleep(Duration::from_millis(10)) => {} // the work under the lock
//! }
//! guard.release().await?;
//! # Ok(())
//! # }
//! ```
//!
//! A lock is held by one gRPC stream (a *session*, wire/proto/maekawa.proto, `service Lock`): the
//! client sends `Acquire`, the daemon answers `Acquired` (or `TimedOut`), and the lock is the
//! client's until it sends `ReleaseLock` (answered by `Released`), closes the stream (dropping
//! the [`LockGuard`]), or dies. Any end of the stream while the lock is held means it is lost:
//! [`LockGuard::lost`] resolves then.
//!
//! **How fast a dead daemon is noticed.** The channel sends an HTTP/2 PING every
//! [`KEEPALIVE_INTERVAL`] (1 s), also while no call is active, and drops the connection when
//! an answer takes longer than [`KEEPALIVE_TIMEOUT`] (2 s). A daemon that exits or is killed
//! closes its TCP connections and is noticed at once; a daemon whose host or network dies is
//! noticed within about 3 s (interval + timeout), after which [`LockGuard::lost`] resolves. The
//! daemon watches its clients the same way (README, "Use it as a lock").
//!
//! This module talks to a daemon only through the wire (crate `maekawa-wire`): its crate cannot
//! name the daemon's. prost types stay inside it: its public API has only its own types.

use crate::config::{Config, ConfigError};
use crate::tls::{EndpointError, Security};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use maekawa_wire as wire;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::transport::Channel;
use wire::lock_client_msg::Body as ClientBody;
use wire::lock_server_msg::Body as ServerBody;

/// How often the client's channel pings the daemon (HTTP/2 keepalive), idle or not.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a ping may go unanswered before the connection is dropped (and a held lock is
/// reported lost).
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long [`LockClient::connect`] tries to open the connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest lock name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// The most slots a semaphore may have ([`LockOptions::limit`]).
pub const MAX_LIMIT: u32 = 64;

/// Why a lock could not be taken, kept, released or listed. Every message is one line.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The lock name breaks the rules ([`validate_name`]).
    #[error("invalid lock name {name:?}: {why}; a lock name is 1 to 128 bytes of printable ASCII without spaces")]
    InvalidName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// A semaphore's limit is out of range.
    #[error("invalid limit {limit}: a semaphore has 1 to {MAX_LIMIT} slots")]
    InvalidLimit {
        /// The limit as given.
        limit: u32,
    },
    /// The address does not parse as `host:port` or a URI.
    #[error("invalid daemon address {addr:?}: {why}; give it as HOST:PORT (e.g. 127.0.0.1:50051)")]
    InvalidAddress {
        /// The address as given.
        addr: String,
        /// What the parser said.
        why: EndpointError,
    },
    /// The cluster file does not give the node's address.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The certificates cannot be read, or the cluster needs them and has none.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
    /// Nothing answers at the daemon's address (or the connection broke before any answer).
    #[error("cannot reach {daemon}: {why}; is the node running?")]
    Unreachable {
        /// `the daemon at ADDR` or `node N at ADDR`.
        daemon: String,
        /// What the connection said.
        why: String,
    },
    /// The wait for the lock ended before it was acquired (`LockOptions::timeout`).
    #[error("timed out after {} waiting for lock {name} at {daemon}", humantime::format_duration(*waited))]
    TimedOut {
        /// The lock.
        name: String,
        /// How long the daemon waited.
        waited: Duration,
        /// `the daemon at ADDR` or `node N at ADDR`.
        daemon: String,
    },
    /// The session broke while the lock was held: the lock may already be someone else's.
    #[error("lock {name} (token {token}) was lost: {why}")]
    Lost {
        /// The lock.
        name: String,
        /// The token it was held with.
        token: u64,
        /// What ended the session.
        why: String,
    },
    /// The daemon refused the call (a gRPC error status), or broke the session before
    /// answering.
    #[error("{daemon} refused: {why}")]
    Refused {
        /// `the daemon at ADDR` or `node N at ADDR`.
        daemon: String,
        /// Its reason.
        why: String,
    },
    /// The daemon answered something the protocol does not allow.
    #[error("protocol error from {daemon}: {why}")]
    Protocol {
        /// `the daemon at ADDR` or `node N at ADDR`.
        daemon: String,
        /// What was wrong.
        why: String,
    },
}

/// Checks a lock name: 1 to [`MAX_NAME_LEN`] bytes, each printable ASCII other than space
/// (`!` to `~`). The daemon checks the same; checking here gives the clearer message first.
pub fn validate_name(name: &str) -> Result<(), LockError> {
    let bad = |why: String| LockError::InvalidName {
        name: name.to_string(),
        why,
    };
    if name.is_empty() {
        return Err(bad("it is empty".into()));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(bad(format!("it is {} bytes long", name.len())));
    }
    if let Some((at, c)) = name.char_indices().find(|(_, c)| !c.is_ascii_graphic()) {
        return Err(bad(format!("it contains {c:?} at byte {at}")));
    }
    Ok(())
}

/// How to wait for a lock.
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    timeout: Option<Duration>,
    client: String,
    limit: Option<u32>,
}

impl LockOptions {
    /// Wait at most `timeout` for the lock (`Duration::ZERO`: try once). Without it, wait
    /// until the lock is free.
    pub fn timeout(mut self, timeout: Duration) -> LockOptions {
        self.timeout = Some(timeout);
        self
    }

    /// Take the lock only if it is free now (a timeout of zero).
    pub fn try_once(self) -> LockOptions {
        self.timeout(Duration::ZERO)
    }

    /// Take a semaphore: any one of `limit` slots of `name` (the locks `NAME#1` ..
    /// `NAME#limit`, 2 to [`MAX_LIMIT`]), so that at most `limit` sessions hold it at once;
    /// [`LockGuard::slot`] says which, and the token is that slot's. 1 is the plain mutex.
    /// Every holder of one semaphore must give the same limit.
    pub fn limit(mut self, limit: u32) -> LockOptions {
        self.limit = (limit > 1).then_some(limit);
        self
    }

    /// Free text that `maekawa locks` shows for this session (say, `pid 4242 on host`).
    pub fn client_label(mut self, label: impl Into<String>) -> LockOptions {
        self.client = label.into();
        self
    }
}

/// A connection to one daemon's `Lock` service. Cheap to clone; each clone may hold locks.
#[derive(Debug, Clone)]
pub struct LockClient {
    daemon: String,
    inner: wire::lock_client::LockClient<Channel>,
}

impl LockClient {
    /// Connects to the daemon at `addr` (`host:port` or `http://host:port`) in plaintext. Fails
    /// at once (after at most [`CONNECT_TIMEOUT`]) when nothing answers there.
    pub async fn connect(addr: &str) -> Result<LockClient, LockError> {
        LockClient::connect_secure(addr, &Security::Plaintext).await
    }

    /// Connects to the daemon at `addr` (`host:port`) in plaintext or mutual TLS as `security`
    /// says (a cluster with certificates needs a lock-client or admin certificate).
    pub async fn connect_secure(addr: &str, security: &Security) -> Result<LockClient, LockError> {
        let plain = addr
            .strip_prefix("http://")
            .or_else(|| addr.strip_prefix("https://"))
            .unwrap_or(addr)
            .trim_end_matches('/');
        LockClient::open(plain, format!("the daemon at {plain}"), security).await
    }

    /// Connects to node `node` of the cluster file `config`: with mutual TLS when the
    /// certificates directory beside the file (`certs/`, made by `maekawa certs init`) holds
    /// a CA, as the lock client (`client.pem`); otherwise in plaintext, which a cluster allows
    /// only on loopback addresses.
    pub async fn connect_node(config: &Config, node: NodeId) -> Result<LockClient, LockError> {
        let dir = crate::tls::default_dir(&config.path);
        let (security, _) = Security::choose(config, &dir, crate::tls::CLIENT, false)?;
        LockClient::connect_node_with(config, node, &security).await
    }

    /// Connects to node `node` of the cluster file `config` as `security` says.
    pub async fn connect_node_with(
        config: &Config,
        node: NodeId,
        security: &Security,
    ) -> Result<LockClient, LockError> {
        let addr = &config.node(node)?.addr;
        LockClient::open(addr, format!("node {node} at {addr}"), security).await
    }

    /// A client over `channel`, already connected to the daemon `daemon` names (for messages):
    /// for transports other than TCP, such as the simulated network of `maekawa simd`.
    pub fn from_channel(daemon: impl Into<String>, channel: Channel) -> LockClient {
        LockClient {
            daemon: daemon.into(),
            inner: wire::lock_client::LockClient::new(channel),
        }
    }

    async fn open(
        addr: &str,
        daemon: String,
        security: &Security,
    ) -> Result<LockClient, LockError> {
        let endpoint = security
            .endpoint(addr)
            .map_err(|why| LockError::InvalidAddress {
                addr: addr.to_string(),
                why,
            })?;
        let channel = endpoint
            .connect_timeout(CONNECT_TIMEOUT)
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true)
            .connect()
            .await
            .map_err(|e| LockError::Unreachable {
                daemon: daemon.clone(),
                why: innermost(&e),
            })?;
        Ok(LockClient {
            daemon,
            inner: wire::lock_client::LockClient::new(channel),
        })
    }

    /// Waits for lock `name` and returns the guard that holds it. The lock stays held until
    /// [`LockGuard::release`], until the guard is dropped, or until the session breaks
    /// ([`LockGuard::lost`]).
    pub async fn lock(&mut self, name: &str, options: LockOptions) -> Result<LockGuard, LockError> {
        validate_name(name)?;
        if let Some(limit) = options.limit.filter(|&n| n > MAX_LIMIT) {
            return Err(LockError::InvalidLimit { limit });
        }
        let (tx, rx) = mpsc::channel(2);
        let acquire = wire::LockClientMsg {
            body: Some(ClientBody::Acquire(wire::Acquire {
                name: name.to_string(),
                timeout_ms: options
                    .timeout
                    .map(|t| u64::try_from(t.as_millis()).unwrap_or(u64::MAX)),
                client: options.client,
                limit: options.limit,
            })),
        };
        // The channel has room: the Acquire is queued before the call starts, so a server
        // that reads it before answering the call's headers is served.
        let _ = tx.try_send(acquire);
        let mut stream = self
            .inner
            .session(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .map_err(|s| self.status_error(&s))?
            .into_inner();
        let first = stream.message().await.map_err(|s| self.status_error(&s))?;
        match first.and_then(|m| m.body) {
            Some(ServerBody::Acquired(a)) => Ok(LockGuard {
                name: if a.name.is_empty() {
                    name.to_string()
                } else {
                    a.name
                },
                token: a.token,
                node: NodeId(a.node),
                session: a.session,
                slot: (a.slot > 0).then_some(a.slot),
                tx: Some(tx),
                stream,
                lost: None,
            }),
            Some(ServerBody::TimedOut(t)) => Err(LockError::TimedOut {
                name: name.to_string(),
                waited: Duration::from_millis(t.waited_ms),
                daemon: self.daemon.clone(),
            }),
            Some(ServerBody::Released(_)) => Err(self.protocol("Released before Acquired")),
            None => Err(LockError::Refused {
                daemon: self.daemon.clone(),
                why: "it ended the session without an answer".into(),
            }),
        }
    }

    /// Every lock in use at this daemon: its holder, token and waiters.
    pub async fn list(&mut self) -> Result<NodeLocks, LockError> {
        let reply = self
            .inner
            .list(wire::ListLocksRequest {})
            .await
            .map_err(|s| self.status_error(&s))?
            .into_inner();
        Ok(NodeLocks {
            node: NodeId(reply.node),
            locks: reply.locks.into_iter().map(LockInfo::from_wire).collect(),
        })
    }

    /// Who this client talks to, as messages name it (`node 1 at 127.0.0.1:50052`).
    pub fn daemon(&self) -> &str {
        &self.daemon
    }

    fn protocol(&self, why: &str) -> LockError {
        LockError::Protocol {
            daemon: self.daemon.clone(),
            why: why.to_string(),
        }
    }

    fn status_error(&self, s: &tonic::Status) -> LockError {
        match s.code() {
            tonic::Code::Unavailable => LockError::Unreachable {
                daemon: self.daemon.clone(),
                why: status_text(s),
            },
            tonic::Code::Unimplemented => LockError::Refused {
                daemon: self.daemon.clone(),
                why: "it does not serve the Lock service (an older maekawa?)".into(),
            },
            _ => LockError::Refused {
                daemon: self.daemon.clone(),
                why: status_text(s),
            },
        }
    }
}

/// A held lock. Dropping it closes the session, which releases the lock too (without
/// waiting for the daemon to confirm); [`LockGuard::release`] waits.
#[derive(Debug)]
pub struct LockGuard {
    name: String,
    token: u64,
    node: NodeId,
    session: u64,
    slot: Option<u32>,
    /// The client half of the session; dropped to close it.
    tx: Option<mpsc::Sender<wire::LockClientMsg>>,
    stream: tonic::Streaming<wire::LockServerMsg>,
    /// Why the session ended, once it has.
    lost: Option<String>,
}

impl LockGuard {
    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The fencing token of this acquisition: larger than the token of every earlier holder
    /// of this lock, anywhere in the cluster. Hand it to the resource so it can refuse a
    /// writer with an older token.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// The daemon (node) that serves this session.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The session's id at that daemon (as `maekawa locks` shows it).
    pub fn session(&self) -> u64 {
        self.session
    }

    /// The semaphore's slot this session holds (1 to its limit; the lock `NAME#slot`, whose
    /// fencing token [`LockGuard::token`] is), or `None` for a mutex.
    pub fn slot(&self) -> Option<u32> {
        self.slot
    }

    /// Resolves when the lock is lost: the session ended (the daemon died, the network broke
    /// for longer than the keepalive bound, or the daemon ended it). Returns the
    /// [`LockError::Lost`] that says why. Cancel-safe: use it in `tokio::select!` beside the
    /// work done under the lock; once lost, it resolves at once.
    pub async fn lost(&mut self) -> LockError {
        if self.lost.is_none() {
            let why = match self.stream.message().await {
                Ok(Some(m)) => match m.body {
                    Some(ServerBody::Released(_)) => {
                        "the daemon released it without being asked".to_string()
                    }
                    _ => "the daemon sent an unexpected message".to_string(),
                },
                Ok(None) => "the daemon ended the session".to_string(),
                Err(s) => format!("the session broke: {}", status_text(&s)),
            };
            self.lost = Some(why);
        }
        self.lost_error()
    }

    fn lost_error(&self) -> LockError {
        LockError::Lost {
            name: self.name.clone(),
            token: self.token,
            why: self.lost.clone().unwrap_or_default(),
        }
    }

    /// Releases the lock and waits for the daemon to confirm. Fails with [`LockError::Lost`]
    /// when the session had already ended: then the lock may not have been held until now.
    pub async fn release(mut self) -> Result<(), LockError> {
        if self.lost.is_some() {
            return Err(self.lost_error());
        }
        if let Some(tx) = self.tx.take() {
            let release = wire::LockClientMsg {
                body: Some(ClientBody::Release(wire::ReleaseLock {})),
            };
            // A send fails only when the call is over; the stream below says how it ended.
            let _ = tx.send(release).await;
        }
        let why = match self.stream.message().await {
            Ok(Some(m)) => match m.body {
                Some(ServerBody::Released(_)) => return Ok(()),
                _ => "the daemon sent an unexpected message instead of Released".to_string(),
            },
            Ok(None) => "the daemon ended the session before confirming the release".to_string(),
            Err(s) => format!("the session broke: {}", status_text(&s)),
        };
        self.lost = Some(why);
        Err(self.lost_error())
    }
}

/// The locks one daemon knows ([`LockClient::list`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLocks {
    /// The daemon that answered.
    pub node: NodeId,
    /// Its locks in use, in the order it gave them.
    pub locks: Vec<LockInfo>,
}

/// One session of a daemon: its id there and the client's label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The session's id at its daemon.
    pub session: u64,
    /// The label its client gave ([`LockOptions::client_label`]); may be empty.
    pub client: String,
}

/// One lock as one daemon sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockInfo {
    /// The lock's name.
    pub name: String,
    /// `held` (a session of this node holds it), `acquiring` (the node waits for votes),
    /// `voting` (only the node's vote or queue concerns it), as the daemon says.
    pub state: String,
    /// The session of this node that holds it, if any.
    pub holder: Option<SessionInfo>,
    /// The holder's fencing token (when held).
    pub token: Option<u64>,
    /// Sessions of this node waiting for it, first in line first.
    pub waiting: Vec<SessionInfo>,
    /// The node's own protocol request for this lock, if any.
    pub request: Option<RequestId>,
    /// The request this node's vote for this lock is given to, if any.
    pub vote: Option<RequestId>,
    /// Requests queued at this node as a voter for this lock.
    pub queue: Vec<RequestId>,
}

impl LockInfo {
    fn from_wire(l: wire::LockInfo) -> LockInfo {
        let req = |r: &wire::WireRequest| RequestId {
            ts: Lamport(r.ts),
            node: NodeId(r.node),
            inc: Incarnation(r.inc),
            epoch: maekawa_core::id::Epoch(r.epoch),
        };
        let mut clients = l.waiting_clients.into_iter();
        let waiting = l
            .waiting_sessions
            .into_iter()
            .map(|session| SessionInfo {
                session,
                client: clients.next().unwrap_or_default(),
            })
            .collect();
        LockInfo {
            holder: (l.holder_session != 0).then_some(SessionInfo {
                session: l.holder_session,
                client: l.holder_client,
            }),
            token: (l.token != 0).then_some(l.token),
            name: l.name,
            state: l.state,
            waiting,
            request: l.request.as_ref().map(req),
            vote: l.vote.as_ref().map(req),
            queue: l.queue.iter().map(req).collect(),
        }
    }
}

/// A status's message, or its code's description when the message is empty.
fn status_text(s: &tonic::Status) -> String {
    if s.message().is_empty() {
        s.code().description().to_string()
    } else {
        let mut text = s.message().to_string();
        // tonic's transport errors say "transport error" and keep the cause as a source.
        if let Some(source) = std::error::Error::source(s) {
            let inner = innermost(source);
            if !text.contains(&inner) {
                text = format!("{text} ({inner})");
            }
        }
        text
    }
}

/// The deepest cause of an error: the one that says what happened ("Connection refused").
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_printable_ascii_without_spaces_up_to_128_bytes() {
        assert!(validate_name("counter").is_ok());
        assert!(validate_name("a/b:c-d_e.f~!").is_ok());
        assert!(validate_name(&"x".repeat(128)).is_ok());
        for (name, why) in [
            ("", "it is empty"),
            ("a b", "it contains ' ' at byte 1"),
            ("tab\t", "it contains '\\t' at byte 3"),
            ("é", "it contains 'é' at byte 0"),
        ] {
            let e = validate_name(name).unwrap_err().to_string();
            assert!(e.contains(why), "{name:?}: {e}");
            assert!(e.ends_with("printable ASCII without spaces"), "{e}");
        }
        let long = validate_name(&"x".repeat(129)).unwrap_err().to_string();
        assert!(long.contains("it is 129 bytes long"), "{long}");
    }

    /// A port nothing listens on, below the ephemeral range (32768 and up), so no outgoing
    /// connection of another test takes it meanwhile.
    fn free_port() -> u16 {
        let start = 10_000 + (std::process::id() % 20_000) as u16;
        (start..32_000)
            .chain(10_000..start)
            .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
            .expect("a free port in 10000..32000")
    }

    #[tokio::test]
    async fn an_unreachable_daemon_is_named_with_its_address() {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let e = LockClient::connect(&addr).await.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot reach the daemon at {addr}: ")),
            "{e}"
        );
        assert!(e.ends_with("; is the node running?"), "{e}");
    }
}
