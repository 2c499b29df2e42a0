//! Wiring one node: everything [`run`] builds before the driver's event loop starts (the node
//! log, the journal and CS log, the gRPC server with its peer, control, lock and health
//! services, metrics, the transport, the core) and takes down after it ends.
//!
//! The listener (`incoming`), the connector and the log directory come from the caller, so
//! several nodes can run in one process (tests/in_process.rs) and a simulated network can
//! replace TCP. This module decides nothing about the protocol: the event loop and what the
//! node does are the driver's (`daemon/driver.rs`).

use super::command::{Control, LockCommand};
use super::control::ControlService;
use super::cslog::CsLog;
use super::driver::{Driver, Inputs};
use super::health;
use super::incarnation::{
    last_logged_incarnation, previous_incarnation, store_incarnation, IncarnationError,
};
use super::journal::{Journal, Restored};
use super::limits;
use super::lock_service::{LockService, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT};
use super::metrics::Metrics;
use super::node_log::{LogInitError, NodeLog};
use super::recall::{recall, Recalled, RECALL_WINDOW};
use super::rotating::Rotation;
use super::settings::{NodeSettings, Workload};
use super::transport::{Connector, Liveness, PeerService, Transport, TransportConfig};
use crate::node_event::{self, LogMessages, NodeEvent};
use crate::tls::{Security, SecurityGate as _, ServerTls as _};
use maekawa_core::id::{Incarnation, NodeId, RequestId, Token};
use maekawa_core::member::{LockAction, LockName, Member};
use maekawa_core::protocol::Options;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The node log cannot be opened.
    #[error(transparent)]
    Log(#[from] LogInitError),
    /// The CS log could not be written.
    #[error(transparent)]
    CsLog(#[from] crate::daemon::cslog::CsLogError),
    /// The incarnation file could not be read or written.
    #[error(transparent)]
    Incarnation(#[from] IncarnationError),
    /// The cluster configuration (`node-<id>.cluster.json`) could not be read or written.
    #[error("{0}")]
    Membership(String),
    /// The gRPC server failed.
    #[error("serving peers failed: {0}")]
    Serve(String),
    /// Another process runs this node id.
    #[error(transparent)]
    Locked(#[from] crate::daemon::proclock::ProcessLockError),
    /// The voter journal cannot be trusted or written.
    #[error(transparent)]
    Journal(#[from] crate::daemon::journal::JournalError),
    /// The node's certificate or key cannot be used.
    #[error("TLS: {0}; make the certificates again with `maekawa certs init`")]
    Tls(String),
    /// Without leases, a vote a lost journal held is never given back: the node must not run.
    #[error("{journal}: missing, and node {node} ran before (incarnation {incarnation} follows): without leases (--lease-ms 0) the votes it held are lost for good and it could grant twice; restore the journal, or run the cluster with leases (the default --lease-ms)")]
    LostJournal {
        /// The journal's path.
        journal: String,
        /// This node.
        node: NodeId,
        /// The incarnation this start took.
        incarnation: u64,
    },
    /// The `--metrics-addr` address cannot be listened on.
    #[error("--metrics-addr {addr}: cannot listen: {source}; is another process using it? pick another HOST:PORT")]
    Metrics {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Runs one node until `shutdown` resolves: serves peers and `maekawa ctl` on `incoming`, and
/// talks to peers through `connector`; its logs go to `settings.log_dir`. The caller must hold
/// the node's [`crate::daemon::proclock::ProcessLock`] (one process per node id) for as long
/// as this runs. On shutdown it leaves the CS if inside, waits (bounded) for its last messages
/// to be acknowledged, and returns its entry count.
pub async fn run<I, IO, IE>(
    mut settings: NodeSettings,
    incoming: I,
    connector: Connector,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, NodeError>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let membership = super::reconfig::resolve_membership(&mut settings)?;
    let me = settings.id;
    let rotation = Rotation {
        max_bytes: settings.log_rotation.0,
        keep: settings.log_rotation.1,
    };
    let log = NodeLog::open(&settings.log_dir, me, rotation)?.with_clock(settings.env.clock);
    let floor = Arc::new(AtomicU64::new(0));
    // Incarnation 0 until it is taken: the server answers peers' Recalls meanwhile (as a
    // process that remembers nothing) and refuses their links.
    let mut tcfg = transport_config(&settings, 0, floor.clone(), &log);
    let (events_tx, events) = mpsc::channel(4096);
    let (control_tx, control) = mpsc::channel::<Control>(16);
    let (lock_tx, locks) = mpsc::channel::<LockCommand>(1024);
    let peer_service = PeerService::new(&tcfg, events_tx.clone());
    let services = Services {
        peers: peer_service.clone(),
        control: ControlService::new(control_tx, settings.security.gate(), log.clone()),
        locks: LockService::new(me.0, lock_tx, settings.security.gate()),
    };
    let server = serve(&settings, services, incoming, log.clone())?;
    // Dropped mid-way (a simulated kill -9 drops this future), the node takes its server
    // with it, as a killed process's sockets close with it.
    let _server_dies_with_node = AbortOnDrop(server.task.abort_handle());
    let taken = take_incarnation(&settings, &connector).await?;
    let durable = open_durable_state(&settings, &log, taken, floor)?;
    tcfg.incarnation = durable.incarnation;
    tcfg.awaits_floor = durable.lost;
    peer_service.started(durable.incarnation);
    let metrics = Metrics::new();
    let metrics_server = serve_metrics(&settings, &metrics).await?;
    let transport = Transport::start(&tcfg, connector, events_tx);
    let (core, restore) = restore_core(&settings, &durable);
    let core = match &membership {
        Some(m) => core.starting_in(m.epoch(), m.token_floor()),
        None => core,
    };
    // The lease timer: a tenth of the lease is plenty for renewals at half term.
    let lease_timer = (settings.lease_ms > 0).then(|| {
        let mut t = tokio::time::interval(Duration::from_millis(
            (settings.lease_ms / 10).clamp(20, 1000),
        ));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut driver = Driver::new(
        &settings,
        core,
        log.clone(),
        durable,
        transport,
        server.reachable,
        metrics,
    )
    .with_membership(membership, tcfg.epoch.clone(), peer_service.clone());
    driver.start(restore).await?;
    // Each batch's lines are written together by the driver's flush. If the driver returns
    // early with an error (or a panic unwinds it), the lines still held describe messages
    // that never left: `unsent` throws them away rather than write them.
    log.hold();
    let unsent = DiscardHeldLines(log.clone());
    let inputs = Inputs {
        events,
        control,
        locks,
        lease_timer,
    };
    let (entries, flushed) = driver.run(inputs, shutdown).await?;
    // Peers' streams into this node never end by themselves: stop serving without waiting.
    let _ = server.stop.send(());
    server.task.abort();
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_millis(100), server.task).await {
        return Err(NodeError::Serve(e.to_string()));
    }
    log.log(&NodeEvent::Stop { entries, flushed });
    log.release();
    drop(unsent);
    Ok(entries)
}

/// Aborts a task when dropped: see its use in [`run`].
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Throws away the held log lines and stops holding when dropped: see its use in [`run`].
struct DiscardHeldLines(NodeLog);

impl Drop for DiscardHeldLines {
    fn drop(&mut self) {
        self.0.discard_held();
        self.0.release();
    }
}

/// What a node keeps across restarts, opened at start: its incarnation, its voter journal
/// with what it restored, and the CS log.
pub(super) struct Durable {
    pub(super) incarnation: u64,
    /// The journal is not whole (`node-<id>.rejoin`): a lost disk whose floor is not learned.
    pub(super) lost: bool,
    pub(super) journal: Journal,
    pub(super) restored: Restored,
    pub(super) cs_log: CsLog,
    /// The journal floor the transport's Hellos announce, kept current by the driver.
    pub(super) floor: Arc<AtomicU64>,
}

/// The incarnation a start takes, and what the peers remembered when it had to ask them.
pub(super) struct Taken {
    pub(super) incarnation: u64,
    pub(super) recalled: Option<Recalled>,
}

/// The incarnation of this start, durably stored before anything else: the one after the
/// file's, or, when the file is missing, one above every incarnation the peers remember
/// (`daemon/recall.rs`).
pub(super) async fn take_incarnation(
    settings: &NodeSettings,
    connector: &Connector,
) -> Result<Taken, NodeError> {
    let (dir, me) = (&settings.log_dir, settings.id);
    let taken = match previous_incarnation(dir, me)? {
        Some(k) => Taken {
            incarnation: k + 1,
            recalled: None,
        },
        None => {
            let recalled = recall(me, &peers_of(settings), connector, RECALL_WINDOW).await;
            // Every peer process may be younger than this node's last one (all restarted):
            // its own log, when it survived, still says which incarnation ran last.
            let logged = last_logged_incarnation(dir, me).map_or(0, |k| k + 1);
            Taken {
                incarnation: recalled.incarnation(settings.env.clock.now()).max(logged),
                recalled: Some(recalled),
            }
        }
    };
    store_incarnation(dir, me, taken.incarnation, &*settings.env.storage)?;
    Ok(taken)
}

/// Every other node of the cluster file, with its address.
fn peers_of(settings: &NodeSettings) -> Vec<(NodeId, String)> {
    settings
        .config
        .nodes
        .iter()
        .filter(|n| n.id != settings.id)
        .map(|n| (n.id, n.addr.clone()))
        .collect()
}

/// Opens what the node keeps on disk and writes the `start` lines (and the plaintext
/// warning) before any peer is contacted (but for the recall of a missing incarnation).
pub(super) fn open_durable_state(
    settings: &NodeSettings,
    log: &NodeLog,
    taken: Taken,
    floor: Arc<AtomicU64>,
) -> Result<Durable, NodeError> {
    let me = settings.id;
    let storage = settings.env.storage.clone();
    let incarnation = taken.incarnation;
    let journal_path = crate::logdir::journal(&settings.log_dir, me);
    let journal_missing = !journal_path.exists();
    if settings.lease_ms == 0 && incarnation > 1 && journal_missing {
        return Err(NodeError::LostJournal {
            journal: journal_path.display().to_string(),
            node: me,
            incarnation,
        });
    }
    // A journal gone at an incarnation the peers (or the logs) knew: marked durably, so that a
    // crash before the floor learned from witnesses is recorded starts as lost again.
    let marker = crate::logdir::rejoin(&settings.log_dir, me);
    if journal_missing && incarnation > 1 && !settings.unsafe_no_journal {
        let made = std::fs::File::create(&marker)
            .and_then(|f| storage.sync_new_file(&f, &marker))
            .and_then(|()| storage.sync_dir(&marker));
        made.map_err(|e| IncarnationError {
            path: marker.clone(),
            why: e.to_string(),
        })?;
    }
    let lost = marker.exists() && !settings.unsafe_no_journal;
    let (journal, restored) = Journal::open_on(&settings.log_dir, me, storage)?;
    let restored = if settings.unsafe_no_journal {
        Restored::default()
    } else {
        restored
    };
    let mut cs_log = CsLog::open(&settings.log_dir)?.with_clock(settings.env.clock);
    // The CS log's start line comes before any peer is contacted: a CS left open by a killed
    // predecessor ends here.
    cs_log.start(me, incarnation)?;
    let addr = settings
        .config
        .node(me)
        .map(|n| n.addr.clone())
        .unwrap_or_default();
    log.log(&NodeEvent::Start {
        incarnation,
        addr,
        quorum: settings.config.quorums.quorum(me).to_vec(),
        pid: settings.env.pid,
        workload: Some(match settings.workload {
            Workload::Auto => node_event::Workload::Auto,
            Workload::Manual => node_event::Workload::Manual,
        }),
        journaled_lock: Some(restored.cs().map_or("none".to_string(), |r| r.to_string())),
        journaled_votes: restored.votes.len() as u64,
        token_floor: restored.floor,
        tls: settings.security.is_tls(),
        log_messages: if settings.log_messages {
            LogMessages::All
        } else {
            LogMessages::None
        },
        quiet_ms: (settings.lease_ms > 0
            && incarnation > 1
            && !settings.unsafe_no_journal
            && (!settings.journal_votes || lost))
            .then_some(settings.reclaim_ms),
        awaits_floor: lost.then_some(true),
    });
    if let Some(r) = taken.recalled {
        log.log(&NodeEvent::Recall {
            incarnation,
            seen: r.seen,
            answered: r.answered,
            no_process: r.no_process,
            unreachable: r.unreachable,
        });
    }
    if let Some(why) = &settings.plaintext_warning {
        log.log(&NodeEvent::Plaintext {
            reason: why.clone(),
        });
    }
    Ok(Durable {
        incarnation,
        lost,
        journal,
        floor: {
            floor.store(restored.floor, std::sync::atomic::Ordering::Relaxed);
            floor
        },
        restored,
        cs_log,
    })
}

/// The transport's settings for a process of `incarnation` (0 while it is not taken yet)
/// whose Hellos announce `floor`.
pub(super) fn transport_config(
    settings: &NodeSettings,
    incarnation: u64,
    floor: Arc<AtomicU64>,
    log: &NodeLog,
) -> TransportConfig {
    let me = settings.id;
    let peers = peers_of(settings);
    TransportConfig {
        me,
        incarnation,
        boot: boot_nonce(settings),
        awaits_floor: false,
        floor,
        // The configuration's epoch (its Hellos say it), kept current by the driver.
        epoch: Arc::new(AtomicU64::new(
            settings.membership.as_ref().map_or(0, |m| m.epoch),
        )),
        liveness: Liveness::new(peers.iter().map(|(p, _)| *p), settings.suspect_after),
        listen: settings
            .config
            .node(me)
            .map(|n| n.addr.clone())
            .unwrap_or_default(),
        peers,
        gate: settings.security.gate(),
        log: log.clone(),
        drop_resend_on_reconnect: settings.env.flaws.drop_resend_on_reconnect,
    }
}

/// The Hello's `boot`: random per process, or, under a simulated clock, drawn from the run's
/// seed so a simulated run replays.
fn boot_nonce(settings: &NodeSettings) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    if matches!(settings.env.clock, super::env::Clock::Virtual { .. }) {
        h = std::collections::hash_map::DefaultHasher::new();
    }
    h.write_u64(settings.env.seed);
    h.write_u32(settings.env.pid);
    h.write_u32(settings.id.0);
    h.finish() | 1
}

/// The gRPC services a node serves on its one address.
struct Services {
    peers: PeerService,
    control: ControlService,
    locks: LockService,
}

/// The running gRPC server.
struct Server {
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    /// Stops serving when sent to (or dropped).
    stop: oneshot::Sender<()>,
    /// What the health service reports: whether a quorum of unsuspected nodes exists.
    reachable: watch::Sender<bool>,
}

/// Starts serving peers, `maekawa ctl`, lock clients and grpc.health.v1 on `incoming`, at
/// most `--max-connections` at once (a connection over that is logged to `log`).
fn serve<I, IO, IE>(
    settings: &NodeSettings,
    services: Services,
    incoming: I,
    log: NodeLog,
) -> Result<Server, NodeError>
where
    I: tokio_stream::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead
        + tokio::io::AsyncWrite
        + tonic::transport::server::Connected
        + Unpin
        + Send
        + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let mut builder = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(limits::MAX_STREAMS_PER_CONNECTION)
        .http2_max_header_list_size(limits::MAX_HEADER_BYTES);
    if let Security::Tls(creds) = &settings.security {
        builder = builder
            .tls_config(creds.server())
            .map_err(|e| NodeError::Tls(format!("{}: {e}", creds.cert_path.display())))?;
    }
    // grpc.health.v1: SERVING while a quorum of live (unsuspected) nodes exists.
    let (reachable, health_service) = health::serve();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(
        builder
            .add_service(
                services
                    .peers
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .add_service(health_service)
            .add_service(
                services
                    .control
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .add_service(
                services
                    .locks
                    .into_server()
                    .max_decoding_message_size(limits::MAX_MESSAGE_BYTES),
            )
            .serve_with_incoming_shutdown(
                limits::limit_connections(incoming, settings.max_connections, log),
                async {
                    let _ = stop_rx.await;
                },
            ),
    );
    Ok(Server {
        task,
        stop,
        reachable,
    })
}

/// Serves `GET /metrics` on `--metrics-addr`, if asked.
async fn serve_metrics(
    settings: &NodeSettings,
    metrics: &Metrics,
) -> Result<Option<JoinHandle<()>>, NodeError> {
    let Some(addr) = &settings.metrics_addr else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| NodeError::Metrics {
            addr: addr.clone(),
            source,
        })?;
    Ok(Some(tokio::spawn(super::metrics::serve(
        listener,
        metrics.registry(),
    ))))
}

/// The core as the journal left it, and the actions its restored votes call for.
pub(super) fn restore_core(
    settings: &NodeSettings,
    durable: &Durable,
) -> (Member, Vec<LockAction>) {
    let votes: Vec<(LockName, RequestId)> = durable
        .restored
        .votes
        .iter()
        .map(|(name, req)| (LockName::from(name.as_str()), *req))
        .collect();
    let options = Options {
        leases: settings.lease_ms > 0,
        lease: settings.lease_ms,
        reclaim_after: settings.reclaim_ms,
        renew_waits_for_all: !settings.env.flaws.renew_without_every_voter,
        fast_grants: settings.handover == super::settings::Handover::Fast,
        forget_votes: !settings.journal_votes,
        // Test-only: without its journal, and without what a lost journal calls for (learning
        // the floor from peers, a quiet period), so a restarted voter can grant twice.
        floor_witnesses: !settings.unsafe_no_journal && !settings.env.flaws.ignore_lost_disk,
        quarantine: !settings.unsafe_no_journal && !settings.env.flaws.ignore_lost_disk,
        ..Options::default()
    };
    let (mut core, actions) = Member::restore_in(
        settings.id,
        Arc::new(settings.config.quorums.clone()),
        Incarnation(durable.incarnation),
        &votes,
        Token(durable.restored.floor),
        options,
        0,
    );
    if durable.lost {
        core.lost_journal(0);
    }
    (core, actions)
}
