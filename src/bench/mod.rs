//! `maekawa bench`: real daemons on loopback under full contention, measured from their own
//! logs and from /proc, in one run.
//!
//! It starts N `maekawa node` processes (this very binary) in a temporary directory, lets them
//! contend for S seconds, samples each daemon's peak RSS and CPU time, stops them with SIGTERM,
//! and reads the logs: CS entries per second, network messages per entry by type, acquire
//! latency (request to entry), the one-way message latency T, and the throughput against the
//! synchronization-delay bound 1 / (2T + hold). It ends with `maekawa check` on the same logs.
//! Linux only (/proc). It measures; it asserts nothing.
//!
//! With `clients` > 0 (the *client path*) the daemons run `--workload manual`, so their own
//! emulated CS stays quiet, and that many clients of the `Lock` service ([`crate::client`]),
//! one tokio task each in this process, client i connected to daemon i mod N, take and release
//! one lock ([`CLIENT_LOCK`]) in a loop. The report then adds locks per second and the acquire
//! latency as the clients saw them (from the `lock` call to `Acquired`), messages per lock from
//! the node logs (lines of that lock only), and whether the fencing tokens, in the order the
//! clients acquired them, strictly increase.

use crate::config::Config;
use crate::logdir;
use crate::logs::check;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

mod clients;
mod daemons;
mod measure;
mod render;

pub use daemons::free_ports;
pub use render::render;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchSettings {
    /// Daemons to start.
    pub nodes: usize,
    /// How long they contend.
    pub seconds: f64,
    /// Time in the CS, ms.
    pub hold_ms: u64,
    /// Pause before asking again, ms.
    pub think_ms: u64,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Run in this directory and keep it (logs, cluster file); without it the run uses a
    /// temporary directory, removed when the run ends, however it ends.
    pub keep: Option<PathBuf>,
    /// Clients of the `Lock` service to run (0: the daemons' own workload, the daemon path).
    pub clients: usize,
    /// The daemons' `--lease-ms` (`None`: their default; 0: no leases), to measure what
    /// leases cost side by side.
    pub lease_ms: Option<u64>,
    /// The daemons' `--handover` (`None`: their default, fast), to compare the fast hand-over
    /// with the Fence round side by side.
    pub handover: Option<crate::daemon::settings::Handover>,
    /// The daemons run with `--journal-votes` (a vote journaled before its GRANT leaves), to
    /// compare it side by side with votes forgotten in a restart (the default with leases).
    pub journal_votes: bool,
    /// Run the daemons and clients with mutual TLS (certificates made for the run), to see
    /// what TLS costs side by side with plaintext.
    pub tls: bool,
    /// The daemons' `--suspect-after`, ms (`None`: [`suspect_after_for`] the cluster size).
    pub suspect_after_ms: Option<u64>,
}

/// The daemons' `--suspect-after` when the bench is not told: their default (1000 ms) up to
/// 10 nodes, then 100 ms per node. On one 2-core machine 100 daemons take seconds to start and
/// their idle links carry a heartbeat every quarter of the timeout (N(N − 1) links); with
/// 1000 ms they suspected live peers thousands of times a run and switched quorums, and the
/// 100 made 15 entries in 20 s.
pub fn suspect_after_for(nodes: usize) -> u64 {
    (100 * nodes as u64).max(1000)
}

/// The lock the clients of the client path take.
pub const CLIENT_LOCK: &str = "bench";

/// How long the client path waits for the daemons to answer before it gives up.
const CONNECT_WITHIN: Duration = Duration::from_secs(20);

/// The figures of the client path (`clients` > 0), as the clients measured them.
#[derive(Debug, Clone, Serialize)]
pub struct ClientFigures {
    /// Clients.
    pub clients: usize,
    /// The lock they took.
    pub lock: String,
    /// Acquisitions (lock calls answered `Acquired`).
    pub locks: u64,
    /// Acquisitions per second of the clients' run (as etcd's and ZooKeeper's benches count).
    pub locks_per_second: f64,
    /// Network messages of the lock, per acquisition.
    pub messages_per_lock: f64,
    /// CPU time of this process (the clients), seconds.
    pub clients_cpu_seconds: f64,
    /// Whether the fencing tokens, sorted by the time the clients got them, strictly
    /// increase, and each acquisition came after the previous holder began its release.
    pub tokens_increasing: bool,
    /// The first acquisition that broke that order, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_violation: Option<String>,
}

/// One daemon's resource use.
#[derive(Debug, Clone, Serialize)]
pub struct DaemonUsage {
    /// Node id.
    pub node: u32,
    /// Peak resident set size, KiB (VmHWM).
    pub peak_rss_kib: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
}

/// The measured figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Daemons.
    pub nodes: usize,
    /// Whether every link and client used mutual TLS.
    pub tls: bool,
    /// Requested run time, s.
    pub seconds: f64,
    /// Hold time, ms.
    pub hold_ms: u64,
    /// Think time, ms.
    pub think_ms: u64,
    /// The daemons' `--lease-ms` (absent: their default).
    pub lease_ms: Option<u64>,
    /// The daemons' `--handover` (absent: their default, fast).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handover: Option<String>,
    /// Whether the daemons journaled every vote (`--journal-votes`).
    #[serde(default)]
    pub journal_votes: bool,
    /// The daemons' `--suspect-after`, ms.
    pub suspect_after_ms: u64,
    /// CS entries in the run.
    pub entries: u64,
    /// Entries per second between the first and the last entry.
    pub entries_per_second: f64,
    /// Network messages (between different nodes) per entry, by kind.
    pub messages_per_entry_by_type: BTreeMap<String, f64>,
    /// Network messages per entry, all kinds.
    pub messages_per_entry: f64,
    /// Network messages sent between the run's first and last entry, per entry after the
    /// first: the steady rate, without the start (each node's `Sync` round with its quorum)
    /// and the end (the requests still waiting when the daemons stop), which weigh on
    /// [`messages_per_entry`](Self::messages_per_entry) when a large cluster makes few
    /// entries.
    pub messages_per_entry_steady: f64,
    /// Acquire latency (request to entry), ms: median.
    pub acquire_p50_ms: f64,
    /// Acquire latency, 99th percentile, ms.
    pub acquire_p99_ms: f64,
    /// Acquire latency, maximum, ms.
    pub acquire_max_ms: f64,
    /// One-way latency of a message over an established link (send to receive log lines of
    /// network messages), median, ms.
    pub one_way_t_ms: f64,
    /// Hand-over (an exit to the next node's entry), median, ms.
    #[serde(default)]
    pub handover_p50_ms: f64,
    /// The median hand-over in units of T (issue 26's goal: at most 1.5).
    #[serde(default)]
    pub handover_over_t: f64,
    /// CPU of every daemon, summed, per entry, ms.
    #[serde(default)]
    pub cpu_ms_per_entry: f64,
    /// The synchronization-delay bound 1 / (2T + hold), entries per second.
    pub bound_entries_per_second: f64,
    /// Measured throughput over the bound.
    pub ratio_to_bound: f64,
    /// Resource use of each daemon.
    pub daemons: Vec<DaemonUsage>,
    /// `maekawa check`'s summary line; on the client path followed by the check of the tokens
    /// the clients were given, in the order they got them.
    pub check: String,
    /// Whether the check passed (on the client path: and the clients' tokens strictly
    /// increased).
    pub check_passed: bool,
    /// The client path's figures (absent on the daemon path).
    #[serde(flatten)]
    pub client: Option<ClientFigures>,
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Setting up the directory, ports or processes failed.
    #[error("bench setup: {0}")]
    Setup(String),
    /// A daemon died during the run.
    #[error("node {node} exited during the run ({status}); see {log}")]
    Died {
        /// The node.
        node: usize,
        /// How it ended.
        status: String,
        /// Its stderr file.
        log: String,
    },
    /// The logs could not be read.
    #[error(transparent)]
    Check(#[from] check::CheckError),
    /// A client of the client path failed.
    #[error("bench client: {0}")]
    Client(String),
}

/// Runs the benchmark and measures it.
pub fn run(settings: &BenchSettings) -> Result<BenchReport, BenchError> {
    // Declared before the daemons, so dropped after them: they are killed first.
    let tmp;
    let dir: &Path = match &settings.keep {
        Some(keep) => keep,
        None => {
            tmp = tempfile::Builder::new()
                .prefix("maekawa-bench-")
                .tempdir()
                .map_err(setup_err)?;
            tmp.path()
        }
    };
    let log_dir = dir.join("logs");
    std::fs::create_dir_all(&log_dir).map_err(setup_err)?;
    let config_path = dir.join("quorums.json");
    daemons::write_config(&config_path, settings.nodes)?;
    let config = Config::load(&config_path).map_err(setup_err)?;
    if settings.tls {
        // Beside the cluster file, where the daemons and the clients look for them.
        crate::certs::init(&config, &crate::tls::default_dir(&config_path)).map_err(setup_err)?;
    }
    let suspect_after = settings
        .suspect_after_ms
        .unwrap_or_else(|| suspect_after_for(settings.nodes));
    let mut daemons = daemons::spawn(settings, &config_path, &log_dir, suspect_after)?;
    let bar = settings.progress.then(|| progress_bar(settings.seconds));
    // The run's seconds count from the moment every daemon is up, so that a large cluster's
    // start (seconds on 2 cores) does not eat the run.
    daemons::wait_for_starts(
        &mut daemons,
        &logdir::cs_log(&log_dir),
        &log_dir,
        settings.nodes,
    )?;
    let (usage, client_run) = contend(settings, &config, &mut daemons, &log_dir, bar.as_ref())?;
    daemons.stop();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let mut report = measure::measure(settings, &config, &log_dir, &usage)?;
    if let Some((run, cpu)) = client_run {
        clients::client_figures(&mut report, settings, run, cpu);
    }
    Ok(report)
}

/// The bar `--progress` shows: tenths of the run's seconds.
fn progress_bar(seconds: f64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new((seconds * 10.0) as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

/// What the run measured while it ran: each daemon's (peak RSS KiB, CPU seconds), and on the
/// client path what the clients did with this process's CPU seconds.
type Contended = (Vec<(u64, f64)>, Option<(clients::ClientRun, f64)>);

/// Lets the daemons contend (for `settings.seconds`, or as long as the clients run), watching
/// that none dies and sampling their resource use.
fn contend(
    settings: &BenchSettings,
    config: &Config,
    daemons: &mut daemons::Daemons,
    log_dir: &Path,
    bar: Option<&indicatif::ProgressBar>,
) -> Result<Contended, BenchError> {
    let started = Instant::now();
    let mut usage = vec![(0u64, 0.0f64); settings.nodes];
    let clients = (settings.clients > 0).then(|| {
        let (config, settings) = (config.clone(), settings.clone());
        std::thread::spawn(move || clients::run_clients(&config, &settings))
    });
    let running = |started: Instant| match &clients {
        Some(thread) => !thread.is_finished(),
        None => started.elapsed().as_secs_f64() < settings.seconds,
    };
    let cs_log = logdir::cs_log(log_dir);
    while running(started) {
        std::thread::sleep(Duration::from_millis(100));
        daemons::died(daemons, log_dir)?;
        for (id, child) in daemons.children.iter().enumerate() {
            usage[id] = daemons::proc_usage(child.id()).unwrap_or(usage[id]);
        }
        if let Some(bar) = bar {
            bar.set_position((started.elapsed().as_secs_f64() * 10.0) as u64);
            if clients.is_none() {
                bar.set_message(format!("{} CS entries", daemons::count_enters(&cs_log)));
            }
        }
    }
    let client_run = match clients {
        Some(thread) => {
            let run = thread
                .join()
                .map_err(|_| BenchError::Client("a client thread panicked".into()))??;
            let cpu = daemons::proc_usage(std::process::id()).map_or(0.0, |(_, cpu)| cpu);
            Some((run, cpu))
        }
        None => None,
    };
    Ok((usage, client_run))
}

fn setup_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
