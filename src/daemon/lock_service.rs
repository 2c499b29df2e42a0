//! The `Lock` service every daemon serves beside the peer links: named locks held by clients
//! (README, "Use it as a lock").
//!
//! A session is one gRPC stream: the client sends `Acquire`, the node answers `Acquired` (with
//! the fencing token) or `TimedOut`; the lock is the client's while the stream lives. It ends
//! with an explicit `ReleaseLock` (answered `Released`), with the stream's end, or when the
//! client dies: its TCP connection closes at once when the process dies, and HTTP/2 keepalive
//! pings ([`KEEPALIVE_INTERVAL`], [`KEEPALIVE_TIMEOUT`]) find a client whose host or network
//! went away. Like the control service it only forwards to the driver (the one owner of the
//! core) and carries the answers back; prost types stay in this module.

use crate::daemon::command::{LockCommand, LockInfo, SessionId, SessionNotice};
use crate::daemon::limits;
use crate::daemon::sessions::MAX_LIMIT;
use crate::daemon::wire;
use crate::tls::{Gate, Role};
use maekawa_core::id::RequestId;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_stream::Stream;
use wire::lock_server::LockServer;

/// How often the server pings an idle client connection.
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a ping may go unanswered before the connection (and every session on it) is
/// dropped: a client that vanished without closing its socket loses its locks within about
/// `KEEPALIVE_INTERVAL + KEEPALIVE_TIMEOUT`.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest lock name accepted, in bytes.
pub const MAX_NAME_LEN: usize = 128;

/// Why a lock name is refused, or `None` when it is fine: 1 to 128 bytes of printable ASCII
/// without spaces, and not `cs` (the daemon's own emulated critical section).
pub fn name_problem(name: &str) -> Option<String> {
    if let Some(problem) = shape_problem(name) {
        return Some(problem);
    }
    if name == maekawa_core::member::LockName::CS {
        return Some(
            "the lock \"cs\" is the daemon's emulated critical section (maekawa ctl request); choose another name"
                .to_string(),
        );
    }
    None
}

/// Why `name` cannot name any lock, or `None`: it must be 1 to 128 bytes of printable ASCII
/// without spaces. One rule for what clients ask for ([`name_problem`]) and for what peers'
/// messages carry ([`crate::daemon::validate`]), so a name that reaches the journal and the
/// logs always fits them; unlike a client, a peer may name `cs`.
pub fn shape_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Some(format!(
            "lock name of {} bytes: use 1 to {MAX_NAME_LEN} bytes",
            name.len()
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Some(format!(
            "lock name {name:?}: use printable ASCII without spaces"
        ));
    }
    None
}

/// Why a semaphore's limit is refused, or `None`: 1 to [`MAX_LIMIT`] slots, and its last
/// slot's lock name (`NAME#LIMIT`) must fit the rules of every lock name.
fn limit_problem(acquire: &wire::Acquire) -> Option<String> {
    let limit = acquire.limit?;
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Some(format!(
            "limit {limit}: a semaphore has 1 to {MAX_LIMIT} slots"
        ));
    }
    let last = format!("{}#{limit}", acquire.name);
    (limit > 1 && last.len() > MAX_NAME_LEN).then(|| {
        format!(
            "lock name of {} bytes with limit {limit}: its slots are named NAME#1 .. NAME#{limit}, so NAME may have at most {} bytes",
            acquire.name.len(),
            MAX_NAME_LEN - (last.len() - acquire.name.len())
        )
    })
}

/// The gRPC face of a node's driver for lock clients.
pub struct LockService {
    node: u32,
    driver: mpsc::Sender<LockCommand>,
    next_session: Arc<AtomicU64>,
    gate: Gate,
    open_sessions: Arc<AtomicUsize>,
}

impl LockService {
    /// A service of node `node` forwarding to the driver behind `driver`; under mutual TLS
    /// (`gate`) only lock-client and admin certificates may hold locks, and any certificate of
    /// the cluster may list them.
    pub fn new(node: u32, driver: mpsc::Sender<LockCommand>, gate: Gate) -> LockService {
        LockService {
            node,
            driver,
            next_session: Arc::new(AtomicU64::new(1)),
            gate,
            open_sessions: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// The tonic service to mount on the node's server.
    pub fn into_server(self) -> LockServer<LockService> {
        LockServer::new(self)
    }
}

fn to_wire(r: RequestId) -> wire::WireRequest {
    wire::WireRequest {
        ts: r.ts.0,
        node: r.node.0,
        inc: r.inc.0,
        epoch: r.epoch.0,
    }
}

fn info_to_wire(l: LockInfo) -> wire::LockInfo {
    let (holder_session, holder_client) = l.holder.unwrap_or_default();
    wire::LockInfo {
        name: l.name,
        state: l.state.name().to_string(),
        holder_session,
        holder_client,
        token: l.token,
        waiting_sessions: l.waiting.iter().map(|(s, _)| *s).collect(),
        waiting_clients: l.waiting.into_iter().map(|(_, c)| c).collect(),
        request: l.request.map(to_wire),
        vote: l.vote.map(to_wire),
        queue: l.queue.into_iter().map(to_wire).collect(),
    }
}

type ServerStream = Pin<Box<dyn Stream<Item = Result<wire::LockServerMsg, tonic::Status>> + Send>>;

/// One of the daemon's [`limits::MAX_SESSIONS`] session slots, given back when dropped.
struct SessionSlot(Arc<AtomicUsize>);

impl SessionSlot {
    /// A slot, or `RESOURCE_EXHAUSTED` when every one is taken.
    fn take(open: &Arc<AtomicUsize>) -> Result<SessionSlot, tonic::Status> {
        let before = open.fetch_add(1, Ordering::AcqRel);
        let slot = SessionSlot(open.clone());
        if before >= limits::MAX_SESSIONS {
            return Err(tonic::Status::resource_exhausted(format!(
                "this node serves {} lock sessions at once; try another node or later",
                limits::MAX_SESSIONS
            )));
        }
        Ok(slot)
    }
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Tells the driver that a session is over when dropped (the response stream went away: the
/// client closed it or died), unless the session already ended by itself.
struct EndSession {
    session: SessionId,
    driver: mpsc::Sender<LockCommand>,
}

impl Drop for EndSession {
    fn drop(&mut self) {
        let driver = self.driver.clone();
        let session = self.session;
        // Never lost: the driver's channel only closes when the node stops.
        tokio::spawn(async move {
            let _ = driver
                .send(LockCommand::Release {
                    session,
                    explicit: false,
                })
                .await;
        });
    }
}

/// Reads the rest of a session's stream from its client: a ReleaseLock (explicit), or its end
/// (the client went away); either way the driver hears that the session is over.
async fn await_release(
    mut from_client: tonic::Streaming<wire::LockClientMsg>,
    driver: mpsc::Sender<LockCommand>,
    session: SessionId,
) {
    let explicit = loop {
        match from_client.message().await {
            Ok(Some(wire::LockClientMsg {
                body: Some(wire::lock_client_msg::Body::Release(_)),
            })) => break true,
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => break false,
        }
    };
    let _ = driver
        .send(LockCommand::Release { session, explicit })
        .await;
}

/// What the session's client is told of `notice`, and whether it is the stream's last
/// message; a lost lock ends the stream with an error instead.
fn notice_body(
    notice: SessionNotice,
    name: &str,
    node: u32,
    session: SessionId,
) -> Result<(wire::lock_server_msg::Body, bool), tonic::Status> {
    let name = name.to_string();
    Ok(match notice {
        SessionNotice::Acquired { token, slot } => (
            wire::lock_server_msg::Body::Acquired(wire::Acquired {
                name,
                token,
                node,
                session,
                slot,
            }),
            false,
        ),
        SessionNotice::TimedOut { waited_ms } => (
            wire::lock_server_msg::Body::TimedOut(wire::TimedOut { name, waited_ms }),
            true,
        ),
        SessionNotice::Released { token } => (
            wire::lock_server_msg::Body::Released(wire::Released { name, token }),
            true,
        ),
        SessionNotice::Lost { token } => {
            return Err(tonic::Status::aborted(format!(
                "lock {name} lost: the lease of token {token} ran out"
            )))
        }
    })
}

#[tonic::async_trait]
impl wire::lock_server::Lock for LockService {
    type SessionStream = ServerStream;

    async fn session(
        &self,
        request: tonic::Request<tonic::Streaming<wire::LockClientMsg>>,
    ) -> Result<tonic::Response<ServerStream>, tonic::Status> {
        self.gate.require(
            &request,
            "holding a lock",
            |r| matches!(r, Role::Client | Role::Admin),
            "a lock-client or admin certificate",
        )?;
        let slot = SessionSlot::take(&self.open_sessions)?;
        let mut from_client = request.into_inner();
        let first = tokio::time::timeout(limits::FIRST_MESSAGE_WITHIN, from_client.message())
            .await
            .map_err(|_| tonic::Status::deadline_exceeded("no Acquire within 5 s"))??
            .and_then(|m| m.body)
            .ok_or_else(|| tonic::Status::invalid_argument("a session starts with Acquire"))?;
        let wire::lock_client_msg::Body::Acquire(acquire) = first else {
            return Err(tonic::Status::invalid_argument(
                "a session starts with Acquire",
            ));
        };
        if let Some(problem) = name_problem(&acquire.name).or_else(|| limit_problem(&acquire)) {
            return Err(tonic::Status::invalid_argument(problem));
        }
        let session = self.next_session.fetch_add(1, Ordering::Relaxed);
        let (notices_tx, mut notices) = mpsc::unbounded_channel();
        self.driver
            .send(LockCommand::Acquire {
                session,
                name: acquire.name.clone(),
                timeout: acquire.timeout_ms.map(Duration::from_millis),
                limit: acquire.limit,
                client: acquire.client,
                notices: notices_tx,
            })
            .await
            .map_err(|_| tonic::Status::unavailable("the node is stopping"))?;
        tokio::spawn(await_release(from_client, self.driver.clone(), session));
        let guard = EndSession {
            session,
            driver: self.driver.clone(),
        };
        let (node, name) = (self.node, acquire.name);
        let stream = async_stream(move |tx| async move {
            let _guard = guard;
            let _slot = slot;
            while let Some(notice) = notices.recv().await {
                let (body, last) = match notice_body(notice, &name, node, session) {
                    Ok(answer) => answer,
                    Err(status) => {
                        // The stream ends with an error: the client's guard reports the lock
                        // lost (as when the node dies).
                        let _ = tx.send(Err(status)).await;
                        return;
                    }
                };
                if tx
                    .send(Ok(wire::LockServerMsg { body: Some(body) }))
                    .await
                    .is_err()
                {
                    return; // the client is gone: the guard ends the session
                }
                if last {
                    return;
                }
            }
        });
        Ok(tonic::Response::new(stream))
    }

    async fn list(
        &self,
        request: tonic::Request<wire::ListLocksRequest>,
    ) -> Result<tonic::Response<wire::ListLocksReply>, tonic::Status> {
        // Any certificate of the cluster may read.
        self.gate.caller(&request)?;
        let (tx, rx) = oneshot::channel();
        self.driver
            .send(LockCommand::List(tx))
            .await
            .map_err(|_| tonic::Status::unavailable("the node is stopping"))?;
        let locks = rx
            .await
            .map_err(|_| tonic::Status::unavailable("the node is stopping"))?;
        Ok(tonic::Response::new(wire::ListLocksReply {
            node: self.node,
            locks: locks.into_iter().map(info_to_wire).collect(),
        }))
    }
}

/// A response stream fed by a task: `body` gets the sending half and runs until it returns.
fn async_stream<F, Fut>(body: F) -> ServerStream
where
    F: FnOnce(mpsc::Sender<Result<wire::LockServerMsg, tonic::Status>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(body(tx));
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
