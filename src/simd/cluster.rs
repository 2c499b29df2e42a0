//! The nodes of a simulated cluster: each a real `daemon::run` on the simulated network and
//! disk, started, killed (its task dropped mid-batch, as `kill -9`), restarted on the same
//! directory, and paused (its task not polled, its bytes held).

use super::disk::SimDisk;
use super::net::{Host, Net};
use crate::config::Config;
use crate::daemon::proclock::ProcessLock;
use crate::daemon::transport::{link_settings, Connector};
use crate::daemon::{self, Clock, Env, Flaws, MsRange, NodeError, NodeSettings, Workload};
use crate::tls::Security;
use maekawa_core::id::NodeId;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// How every node of one run is set up.
#[derive(Debug, Clone)]
pub(super) struct NodeSetup {
    pub(super) config: Config,
    pub(super) dir: PathBuf,
    pub(super) clock: Clock,
    pub(super) seed: u64,
    pub(super) lease_ms: u64,
    pub(super) flaws: Flaws,
    /// Node ids whose CS is asked for by `ctl` only.
    pub(super) manual: Vec<NodeId>,
    /// Virtual microseconds a journal sync takes (`lo..=hi`).
    pub(super) fsync_us: (u64, u64),
    /// Whether nodes log every message (`--log-messages all`); some seeds do, as it costs a
    /// quarter of a run's time.
    pub(super) log_messages: bool,
    /// Where the nodes' disks tell of each journal sync they start.
    pub(super) sync_starts: tokio::sync::mpsc::UnboundedSender<(NodeId, Duration)>,
    /// The automatic workload's time in the CS, in ms: short, or (some seeds) long enough for
    /// leases to be renewed.
    pub(super) hold_ms: (u64, u64),
}

/// One simulated node, up or down.
pub(super) struct SimNode {
    pub(super) id: NodeId,
    pub(super) addr: String,
    pub(super) disk: Arc<SimDisk>,
    task: Option<JoinHandle<Result<u64, NodeError>>>,
    stop: Option<oneshot::Sender<()>>,
    pause: watch::Sender<bool>,
    starts: u64,
    _lock: ProcessLock,
}

impl SimNode {
    /// A node not yet started, holding its process lock for the whole run.
    pub(super) fn new(setup: &NodeSetup, id: NodeId) -> Result<SimNode, NodeError> {
        let addr = setup
            .config
            .node(id)
            .map(|n| n.addr.clone())
            .unwrap_or_default();
        Ok(SimNode {
            id,
            addr,
            disk: Arc::new(SimDisk::new(
                setup.seed ^ (u64::from(id.0) << 40) ^ 0xD15C,
                setup.fsync_us,
                Some((id, setup.sync_starts.clone())),
            )),
            task: None,
            stop: None,
            pause: watch::channel(false).0,
            starts: 0,
            _lock: ProcessLock::acquire(&setup.dir, id)?,
        })
    }

    /// Whether its process runs.
    pub(super) fn is_up(&self) -> bool {
        self.task.is_some()
    }

    /// Whether it is paused.
    pub(super) fn is_paused(&self) -> bool {
        *self.pause.borrow()
    }

    /// Starts a process of this node on its directory (a restart after a kill).
    pub(super) fn start(&mut self, setup: &NodeSetup, net: &Net) {
        self.starts += 1;
        let incoming = net.listen(self.id, &self.addr);
        let connector = connector(net.clone(), Host::Node(self.id));
        let lease_ms = setup.lease_ms;
        let settings = NodeSettings {
            id: self.id,
            config: setup.config.clone(),
            log_dir: setup.dir.clone(),
            workload: if setup.manual.contains(&self.id) {
                Workload::Manual
            } else {
                Workload::Auto
            },
            think: MsRange { lo: 10, hi: 80 },
            hold: MsRange {
                lo: setup.hold_ms.0,
                hi: setup.hold_ms.1,
            },
            max_entries: None,
            suspect_after: Duration::from_millis(500),
            unsafe_no_journal: false,
            lease_ms,
            reclaim_ms: lease_ms + lease_ms / 3,
            handover: Default::default(),
            journal_votes: false,
            security: Security::Plaintext,
            plaintext_warning: None,
            max_connections: daemon::limits::MAX_CONNECTIONS,
            log_messages: setup.log_messages,
            log_rotation: (0, 0),
            metrics_addr: None,
            env: Env {
                clock: setup.clock,
                storage: self.disk.clone(),
                seed: setup.seed ^ self.starts.wrapping_mul(0x51_7CC1_B727_220A),
                pid: 0,
                flaws: setup.flaws,
            },
            membership: None,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        self.pause.send_replace(false);
        let run = daemon::run(settings, incoming, connector, async {
            let _ = stopped.await;
        });
        self.task = Some(tokio::spawn(pausable(run, self.pause.subscribe())));
        self.stop = Some(stop);
    }

    /// `kill -9`: the task is dropped wherever it is, its connections end, and with `crash`
    /// the machine goes down too (what was not synced is lost, or torn).
    pub(super) async fn kill(&mut self, net: &Net, crash: bool) -> std::io::Result<()> {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.stop = None;
        net.down(self.id);
        if crash {
            self.disk.crash(true)?;
        }
        Ok(())
    }

    /// Asks the process to stop the way `maekawa node` does on SIGTERM (all nodes are asked
    /// first, then [`SimNode::stopped`] waits for each, so they stop together).
    pub(super) fn stop(&mut self, net: &Net) {
        self.pause.send_replace(false);
        net.resume(self.id);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Waits for the process asked to stop, and returns its entry count (`None` when it was
    /// not up).
    pub(super) async fn stopped(&mut self, net: &Net) -> Option<Result<u64, String>> {
        let task = self.task.take()?;
        let result = match task.await {
            Ok(r) => Some(r.map_err(|e| e.to_string())),
            Err(e) => Some(Err(e.to_string())),
        };
        net.down(self.id);
        result
    }

    /// Stops polling the node (and holds its bytes) until [`SimNode::resume`].
    pub(super) fn pause(&mut self, net: &Net) {
        self.pause.send_replace(true);
        net.pause(self.id);
    }

    /// Polls it again.
    pub(super) fn resume(&mut self, net: &Net) {
        self.pause.send_replace(false);
        net.resume(self.id);
    }

    /// The files a lost journal takes with it.
    /// What a lost disk takes: the journal, the incarnation file, and their temporary files.
    pub(super) fn disk_files(&self, dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for path in [
            crate::logdir::journal(dir, self.id),
            crate::logdir::incarnation(dir, self.id),
        ] {
            let mut tmp = path.clone().into_os_string();
            tmp.push(".tmp");
            files.push(path);
            files.push(PathBuf::from(tmp));
        }
        files.push(crate::logdir::rejoin(dir, self.id));
        files
    }
}

/// Runs `fut`, except while `paused` says so: then it is not polled at all.
async fn pausable<F: Future>(fut: F, mut paused: watch::Receiver<bool>) -> F::Output {
    tokio::pin!(fut);
    loop {
        if *paused.borrow_and_update() {
            if paused.changed().await.is_err() {
                return fut.await;
            }
            continue;
        }
        tokio::select! {
            biased;
            out = &mut fut => return out,
            _ = paused.changed() => {}
        }
    }
}

/// Opens a gRPC channel over the simulated network from `from` to an address, with the same
/// HTTP/2 settings as the daemon's TCP connector.
pub(super) fn connector(net: Net, from: Host) -> Connector {
    Arc::new(move |addr: String| {
        let net = net.clone();
        Box::pin(async move {
            channel(&net, from, &addr)
                .await
                .map_err(crate::daemon::transport::connect_failed)
        })
    })
}

/// A channel from `from` to `addr` over `net`.
pub(super) async fn channel(
    net: &Net,
    from: Host,
    addr: &str,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let net = net.clone();
    let target = addr.to_string();
    link_settings(tonic::transport::Endpoint::from_shared(format!(
        "http://{addr}"
    ))?)
    .connect_with_connector(tower::service_fn(move |_uri| {
        let (net, target) = (net.clone(), target.clone());
        async move {
            net.until_running(from).await;
            net.connect(from, &target).map(hyper_util::rt::TokioIo::new)
        }
    }))
    .await
}
