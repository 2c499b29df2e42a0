//! `maekawa node`: run one daemon in the foreground until SIGTERM or SIGINT.

use super::fail;
use clap::Args;
use maekawa::config::Config;
use maekawa::daemon::{self, MsRange, NodeSettings, Workload};
use maekawa_core::id::NodeId;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Flags of `maekawa node`.
#[derive(Args, Debug)]
pub(crate) struct NodeArgs {
    /// This node's id in the cluster file.
    #[arg(long)]
    id: u32,
    /// The cluster file (node ids and addresses, optional explicit quorums).
    #[arg(long, default_value = "quorums.json")]
    config: PathBuf,
    /// Listen here instead of at the cluster file's address for this id: a node joining the
    /// cluster (not in the file yet; it grants nothing until `maekawa cluster add ID ADDR`
    /// reaches it), or a new host for a failed node (`maekawa cluster replace ID ADDR`).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory for node-<id>.log, critical_section.log and the incarnation file (created if
    /// missing).
    #[arg(long, default_value = "logs")]
    log_dir: PathBuf,
    /// `auto`: request the CS again after a random think time; `manual`: only on command.
    #[arg(long, value_enum, default_value_t = Workload::Auto)]
    workload: Workload,
    /// Think time before each request, in ms: `A..B` (random in the range) or `A`.
    #[arg(long, default_value = "100..500")]
    think_ms: MsRange,
    /// Time spent in the CS, in ms: `A..B` or `A`.
    #[arg(long, default_value = "10..50")]
    hold_ms: MsRange,
    /// Stop requesting after this many CS entries (the node keeps voting for others).
    #[arg(long)]
    max_entries: Option<u64>,
    /// Suspect a peer not heard from for this many ms (logged as `suspect`, shown by `maekawa
    /// ctl status`); idle links carry a heartbeat every quarter of it.
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = parse_suspect_after)]
    suspect_after: u64,
    /// Test-only: run without the voter journal, and without what a lost journal calls for
    /// (the token floor learned from peers, a quiet period), so a restarted voter can grant
    /// twice.
    #[arg(long, hide = true)]
    unsafe_no_journal: bool,
    /// Lease term in ms: a holder confirms its token and lease with its voters before it
    /// enters, renews every half term, and leaves when the lease runs out; the votes of a
    /// suspected holder are reclaimed only after `--reclaim-ms`. 0 turns leases off (a dead
    /// holder then blocks its voters until it restarts).
    #[arg(long, default_value_t = maekawa_core::protocol::DEFAULT_LEASE_MS)]
    lease_ms: u64,
    /// How long after a suspected holder last confirmed its lease its votes are reclaimed, in
    /// ms; must exceed `--lease-ms` by a margin for clock-rate drift (default: lease + 1000).
    #[arg(long)]
    reclaim_ms: Option<u64>,
    /// How an entry confirms its fencing token with leases on: `fast` (a GRANT confirms the
    /// request's timestamp as its token, so a hand-over is RELEASE then GRANT) or `fenced` (a
    /// Fence round after the last GRANT, the protocol before issue 26). Every node of a
    /// cluster must use the same.
    #[arg(long, value_enum, default_value_t = maekawa::daemon::settings::Handover::Fast)]
    handover: maekawa::daemon::settings::Handover,
    /// Journal every vote (fsync) before its GRANT leaves, also with leases: a restarted node
    /// then resumes the votes it gave. Without (the default with leases), votes are not
    /// journaled, which takes the fsync off the hand-over: a restarted node has forgotten them
    /// and grants nothing for `--reclaim-ms`, by when every lease they carried has run out.
    /// Without leases votes are always journaled.
    #[arg(long)]
    journal_votes: bool,
    /// Connections this node serves at once (peers, clients, ctl); one more is closed as soon
    /// as it is accepted, with a `connections_full` warning in the node log.
    #[arg(long, default_value_t = maekawa::daemon::limits::MAX_CONNECTIONS, value_parser = parse_max_connections)]
    max_connections: usize,
    /// Rotate node-<id>.log when it would grow past this many bytes (to node-<id>.log.1, the
    /// older ones moving up); 0 never rotates. `check`, `report` and `timeline` read the
    /// rotated files too.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    log_rotate_bytes: u64,
    /// Rotated node logs to keep (node-<id>.log.1 to .N); older ones are deleted.
    #[arg(long, value_name = "N", default_value_t = 8)]
    log_keep: usize,
    /// `all`: a `send` and a `recv` line for every protocol message (for demos and reports:
    /// the default); `none`: entries, re-votes, suspicions and errors only, for long runs
    /// (`check` then skips its Grant rule for that process, having no `recv` lines to match).
    #[arg(long, value_enum, default_value_t = LogMessages::All)]
    log_messages: LogMessages,
    /// Serve Prometheus metrics as plain HTTP `GET /metrics` on this address (`HOST:PORT`;
    /// off by default). No TLS and no authentication: bind it to a private address.
    #[arg(long, value_name = "HOST:PORT")]
    metrics_addr: Option<String>,
    #[command(flatten)]
    tls: super::TlsArgs,
}

/// What `--log-messages` keeps.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogMessages {
    /// Every message, sent and received.
    All,
    /// No message lines.
    None,
}

/// A flag's value out of its range, in the words clap shows.
#[derive(Debug, thiserror::Error)]
enum FlagError {
    #[error("'{0}' is not a number of connections from 1 to 65536")]
    Connections(String),
    #[error("'{0}' is not a number of milliseconds from 1 to {MAX_SUSPECT_AFTER_MS} (an hour)")]
    SuspectAfter(String),
}

fn parse_max_connections(s: &str) -> Result<usize, FlagError> {
    match s.parse::<usize>() {
        Ok(n) if (1..=65_536).contains(&n) => Ok(n),
        _ => Err(FlagError::Connections(s.to_string())),
    }
}

/// The longest `--suspect-after`: an hour, which in practice turns suspicion off.
const MAX_SUSPECT_AFTER_MS: u64 = 3_600_000;

fn parse_suspect_after(s: &str) -> Result<u64, FlagError> {
    match s.parse::<u64>() {
        Ok(ms) if (1..=MAX_SUSPECT_AFTER_MS).contains(&ms) => Ok(ms),
        _ => Err(FlagError::SuspectAfter(s.to_string())),
    }
}

/// Validates the flags, then runs the node; exit 0 after a clean stop, 2 for bad input or a
/// failed start.
pub(crate) fn run(args: NodeArgs) -> ExitCode {
    let settings = match node_settings(&args) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    match run_node(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn node_settings(args: &NodeArgs) -> anyhow::Result<NodeSettings> {
    let id = NodeId(args.id);
    let mut config = Config::load(&args.config)?;
    let membership = joining(&mut config, id, args)?;
    let reclaim_ms = args.reclaim_ms.unwrap_or(args.lease_ms + 1000);
    // Drift of cheap clocks is far below 1%; 5% plus 100 ms is a wide margin.
    let needed = args.lease_ms + args.lease_ms / 20 + 100;
    if args.lease_ms > 0 && reclaim_ms < needed {
        anyhow::bail!(
            "--reclaim-ms {reclaim_ms} is too close to --lease-ms {}: use at least {needed} (the lease plus 5% and 100 ms for clock drift)",
            args.lease_ms
        );
    }
    let (security, plaintext_warning) = args.tls.security(&config, &maekawa::tls::node_stem(id))?;
    Ok(NodeSettings {
        security,
        plaintext_warning,
        max_connections: args.max_connections,
        log_messages: args.log_messages == LogMessages::All,
        log_rotation: (args.log_rotate_bytes, args.log_keep),
        metrics_addr: args.metrics_addr.clone(),
        env: maekawa::daemon::Env::real(),
        id,
        config,
        log_dir: args.log_dir.clone(),
        workload: args.workload,
        think: args.think_ms,
        hold: args.hold_ms,
        max_entries: args.max_entries,
        suspect_after: std::time::Duration::from_millis(args.suspect_after),
        unsafe_no_journal: args.unsafe_no_journal,
        lease_ms: args.lease_ms,
        reclaim_ms,
        handover: args.handover,
        journal_votes: args.journal_votes,
        membership,
    })
}

/// Where this node listens: `--listen`, else the address its own `node-<id>.cluster.json`
/// gives it (a node moved by `cluster replace`), else the file's. A node the file does not
/// list (joining) starts from the file's configuration without itself. Returns that
/// configuration for a joining node (`None` otherwise).
fn joining(
    config: &mut Config,
    id: NodeId,
    args: &NodeArgs,
) -> anyhow::Result<Option<daemon::membership::Membership>> {
    // Unreadable here (no log directory yet, say): the daemon reports it once it opens it.
    let kept = daemon::membership::Membership::load(&args.log_dir, id)
        .ok()
        .flatten()
        .and_then(|m| m.addresses().get(&id).cloned());
    let listen = args.listen.clone().or(kept);
    let Some(addr) = listen else {
        config.node(id)?;
        return Ok(None);
    };
    maekawa::config::check_addr(&addr)
        .map_err(|e| anyhow::anyhow!("--listen {addr:?}: {e}; write it as host:port"))?;
    if let Some(n) = config.nodes.iter_mut().find(|n| n.id == id) {
        n.addr = addr;
        return Ok(None);
    }
    let from_file = daemon::membership::Membership::from_file(config)?;
    config.nodes.push(maekawa::config::NodeAddr { id, addr });
    config.nodes.sort_by_key(|n| n.id);
    Ok(Some(from_file))
}

/// Sets up diagnostics, binds the node's address, and runs the node on a tokio runtime until
/// SIGTERM or SIGINT.
fn run_node(settings: NodeSettings) -> anyhow::Result<()> {
    create_log_dir(&settings.log_dir)?;
    // One process per node id: held until this process ends (the OS releases it on kill -9).
    let _lock = daemon::proclock::ProcessLock::acquire(&settings.log_dir, settings.id)?;
    // Diagnostics (tracing) go to stderr, `node-<id>.out` when the scripts start the node; the
    // node log is the daemon's own value, written by its driver.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::WARN)
        .try_init();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async {
        let addr = settings.config.node(settings.id)?.addr.clone();
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| listen_error(&settings.config.path, settings.id, &addr, e))?;
        let security = settings.security.clone();
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        daemon::run(
            settings,
            incoming,
            daemon::transport::tcp_connector(security),
            shutdown_signal(),
        )
        .await?;
        anyhow::Ok(())
    });
    result
}

/// Creates the log directory and its parents if they are missing, as scripts/start-node.sh
/// does, so the lock file and the logs have somewhere to go.
fn create_log_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot create the log directory ({e}); pass --log-dir a directory that can be \
             created and written",
            dir.display()
        )
    })
}

fn listen_error(config: &Path, id: NodeId, addr: &str, e: std::io::Error) -> anyhow::Error {
    anyhow::anyhow!(
        "{}: nodes[id={id}].addr: cannot listen on {addr}: {e}; is another node running on this \
         address? stop it (scripts/stop.sh) or change the address",
        config.display()
    )
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
