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

use crate::client::{LockClient, LockOptions};
use crate::config::Config;
use crate::logdir;
use crate::logs::check;
use maekawa_core::id::NodeId;
use maekawa_core::protocol::MsgKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

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
    /// Keep the run's directory (logs) instead of deleting it.
    pub keep: Option<PathBuf>,
    /// Clients of the `Lock` service to run (0: the daemons' own workload, the daemon path).
    pub clients: usize,
    /// The daemons' `--lease-ms` (`None`: their default; 0: no leases), to measure what
    /// leases cost side by side.
    pub lease_ms: Option<u64>,
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

/// How long the bench waits for every daemon's `start` line before it gives up: 10 s, and
/// 200 ms more per daemon (100 start in about 3 s on 2 cores).
fn start_within(nodes: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_millis(200 * nodes as u64)
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

struct Daemons {
    children: Vec<Child>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn setup_err(e: impl std::fmt::Display) -> BenchError {
    BenchError::Setup(e.to_string())
}

/// Runs the benchmark and measures it.
pub fn run(settings: &BenchSettings) -> Result<BenchReport, BenchError> {
    let tmp = tempdir()?;
    let dir = settings.keep.clone().unwrap_or_else(|| tmp.clone());
    let log_dir = dir.join("logs");
    std::fs::create_dir_all(&log_dir).map_err(setup_err)?;
    let config_path = dir.join("quorums.json");
    write_config(&config_path, settings.nodes)?;
    let config = Config::load(&config_path).map_err(setup_err)?;
    if settings.tls {
        // Beside the cluster file, where the daemons and the clients look for them.
        crate::certs::init(&config, &crate::tls::default_dir(&config_path)).map_err(setup_err)?;
    }
    let exe = std::env::current_exe().map_err(setup_err)?;
    // Each daemon keeps a connection to and from every peer; its children inherit this.
    raise_open_files_limit();
    let suspect_after = settings
        .suspect_after_ms
        .unwrap_or_else(|| suspect_after_for(settings.nodes));

    let mut daemons = Daemons {
        children: Vec::new(),
    };
    for id in 0..settings.nodes {
        let err = std::fs::File::create(logdir::stderr(&log_dir, NodeId(id as u32)))
            .map_err(setup_err)?;
        let child = Command::new(&exe)
            .args(["node", "--id", &id.to_string()])
            .arg("--config")
            .arg(&config_path)
            .arg("--log-dir")
            .arg(&log_dir)
            .args(["--think-ms", &settings.think_ms.to_string()])
            .args(["--hold-ms", &settings.hold_ms.to_string()])
            .args(["--suspect-after", &suspect_after.to_string()])
            .args(
                settings
                    .lease_ms
                    .map(|l| vec!["--lease-ms".to_string(), l.to_string()])
                    .unwrap_or_default(),
            )
            .args(if settings.clients > 0 {
                &["--workload", "manual"][..]
            } else {
                &[]
            })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(setup_err)?;
        daemons.children.push(child);
    }

    let bar = settings.progress.then(|| {
        let bar = indicatif::ProgressBar::new((settings.seconds * 10.0) as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} [{bar:40}] {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar
    });
    let cs_log = logdir::cs_log(&log_dir);
    // The run's seconds count from the moment every daemon is up, so that a large cluster's
    // start (seconds on 2 cores) does not eat the run.
    wait_for_starts(&mut daemons, &cs_log, &log_dir, settings.nodes)?;
    let started = Instant::now();
    let mut usage = vec![(0u64, 0.0f64); settings.nodes];
    let clients = (settings.clients > 0).then(|| {
        let (config, settings) = (config.clone(), settings.clone());
        std::thread::spawn(move || run_clients(&config, &settings))
    });
    let running = |started: Instant| match &clients {
        Some(thread) => !thread.is_finished(),
        None => started.elapsed().as_secs_f64() < settings.seconds,
    };
    while running(started) {
        std::thread::sleep(Duration::from_millis(100));
        died(&mut daemons, &log_dir)?;
        for (id, child) in daemons.children.iter().enumerate() {
            usage[id] = proc_usage(child.id()).unwrap_or(usage[id]);
        }
        if let Some(bar) = &bar {
            bar.set_position((started.elapsed().as_secs_f64() * 10.0) as u64);
            if clients.is_none() {
                bar.set_message(format!("{} CS entries", count_enters(&cs_log)));
            }
        }
    }
    let client_run = match clients {
        Some(thread) => {
            let run = thread
                .join()
                .map_err(|_| BenchError::Client("a client thread panicked".into()))??;
            let cpu = proc_usage(std::process::id()).map_or(0.0, |(_, cpu)| cpu);
            Some((run, cpu))
        }
        None => None,
    };
    for child in &daemons.children {
        // SAFETY: plain kill(2) on the PID of a child we own and have not reaped.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
    }
    for child in &mut daemons.children {
        let _ = child.wait();
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

    let mut report = measure(settings, &config, &log_dir, &usage)?;
    if let Some((run, cpu)) = client_run {
        client_figures(&mut report, settings, run, cpu);
    }
    if settings.keep.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(report)
}

/// Waits until `critical_section.log` holds a `start` line of each of the `nodes` daemons;
/// fails when one dies or they take longer than [`start_within`].
fn wait_for_starts(
    daemons: &mut Daemons,
    cs_log: &Path,
    log_dir: &Path,
    nodes: usize,
) -> Result<(), BenchError> {
    let until = Instant::now() + start_within(nodes);
    loop {
        let started = std::fs::read_to_string(cs_log)
            .map(|t| t.matches("\"event\":\"start\"").count())
            .unwrap_or(0);
        if started >= nodes {
            return Ok(());
        }
        died(daemons, log_dir)?;
        if Instant::now() >= until {
            return Err(setup_err(format!(
                "{started} of {nodes} daemons wrote their start line within {:?}; see {}",
                start_within(nodes),
                log_dir.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The first daemon that has exited, as an error.
fn died(daemons: &mut Daemons, log_dir: &Path) -> Result<(), BenchError> {
    for (id, child) in daemons.children.iter_mut().enumerate() {
        if let Some(status) = child.try_wait().map_err(setup_err)? {
            return Err(BenchError::Died {
                node: id,
                status: status.to_string(),
                log: logdir::stderr(log_dir, NodeId(id as u32))
                    .display()
                    .to_string(),
            });
        }
    }
    Ok(())
}

/// Raises this process's soft limit of open files to its hard limit (the daemons inherit
/// it): a daemon of N holds about 2(N − 1) sockets besides its files, and some systems start
/// processes with a soft limit of 1024. Failing leaves the limit as it was.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn tempdir() -> Result<PathBuf, BenchError> {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("maekawa-bench-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(setup_err)?;
    Ok(dir)
}

fn write_config(path: &Path, n: usize) -> Result<(), BenchError> {
    let nodes: Vec<String> = free_ports(n)?
        .iter()
        .enumerate()
        .map(|(i, port)| format!(r#"{{"id": {i}, "addr": "127.0.0.1:{port}"}}"#))
        .collect();
    std::fs::write(path, format!("{{\"nodes\": [{}]}}\n", nodes.join(", "))).map_err(setup_err)
}

/// `n` loopback ports that were free a moment ago, below the kernel's ephemeral range
/// (`ip_local_port_range`, 32768–60999 by default): a port from that range can be taken by an
/// outgoing connection of a daemon that starts first, before the daemon it was meant for binds
/// it. The search starts at a place that depends on the PID and the clock, so benchmarks (and
/// the process tests, which take their ports here too) running at the same time rarely try the
/// same ports.
pub fn free_ports(n: usize) -> Result<Vec<u16>, BenchError> {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let (first, last) = (10_000u16, low.saturating_sub(1).max(10_001));
    let span = u32::from(last - first) + 1;
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let start = (std::process::id().wrapping_mul(7919) ^ nanos) % span;
    let ports: Vec<u16> = (0..span)
        .map(|i| first + ((start + i) % span) as u16)
        .filter(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .take(n)
        .collect();
    if ports.len() < n {
        return Err(setup_err(format!(
            "fewer than {n} free ports in {first}..={last}"
        )));
    }
    Ok(ports)
}

/// (peak RSS KiB, CPU seconds) of a process, from /proc (`VmHWM`, `utime + stime`).
fn proc_usage(pid: u32) -> Option<(u64, f64)> {
    let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    let peak_rss_kib = process.status().ok()?.vmhwm?;
    let stat = process.stat().ok()?;
    let cpu_seconds = (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64;
    Some((peak_rss_kib, cpu_seconds))
}

fn count_enters(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.matches("\"event\":\"enter\"").count())
        .unwrap_or(0)
}

fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s).ok()
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

/// Reads the run's logs into the report.
fn measure(
    settings: &BenchSettings,
    config: &Config,
    log_dir: &Path,
    usage: &[(u64, f64)],
) -> Result<BenchReport, BenchError> {
    let mut enter_times = Vec::new();
    let mut waits = Vec::new();
    let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
    // (from, to, lamport) -> send time; matched with the receive line.
    let mut sends: BTreeMap<(u64, u64, u64), SystemTime> = BTreeMap::new();
    let mut recvs: Vec<((u64, u64, u64), SystemTime)> = Vec::new();
    let mut send_times: Vec<SystemTime> = Vec::new();
    for id in 0..settings.nodes {
        let path = logdir::node_log(log_dir, NodeId(id as u32));
        let Ok(file) = std::fs::File::open(&path) else {
            continue;
        };
        for line in std::io::BufReader::new(file).lines().map_while(Result::ok) {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            let event = v["event"].as_str().unwrap_or("");
            if settings.clients > 0 && v["lock"].as_str() != Some(CLIENT_LOCK) {
                continue;
            }
            let time = v["timestamp"].as_str().and_then(parse_time);
            match event {
                "enter_cs" => {
                    waits.push(v["wait_ms"].as_f64().unwrap_or(0.0));
                    if let Some(t) = time {
                        enter_times.push(t);
                    }
                }
                "send" | "recv" if v["from"] != v["to"] => {
                    let key = (
                        v["from"].as_u64().unwrap_or(0),
                        v["to"].as_u64().unwrap_or(0),
                        v["lamport"].as_u64().unwrap_or(0),
                    );
                    if event == "send" {
                        let kind = v["msg"].as_str().unwrap_or("?").to_string();
                        *by_kind.entry(kind).or_default() += 1;
                        if let Some(t) = time {
                            sends.insert(key, t);
                            send_times.push(t);
                        }
                    } else if let Some(t) = time {
                        recvs.push((key, t));
                    }
                }
                _ => {}
            }
        }
    }
    let entries = enter_times.len() as u64;
    enter_times.sort();
    let span = match (enter_times.first(), enter_times.last()) {
        (Some(a), Some(b)) => b.duration_since(*a).unwrap_or_default().as_secs_f64(),
        _ => 0.0,
    };
    let entries_per_second = if span > 0.0 {
        (entries.saturating_sub(1)) as f64 / span
    } else {
        0.0
    };
    let steady = match (enter_times.first(), enter_times.last()) {
        (Some(a), Some(b)) if entries > 1 => {
            let sent = send_times.iter().filter(|t| *t >= a && *t <= b).count();
            sent as f64 / (entries - 1) as f64
        }
        _ => 0.0,
    };
    let mut one_way: Vec<f64> = recvs
        .iter()
        .filter_map(|(k, r)| {
            let s = sends.get(k)?;
            Some(r.duration_since(*s).ok()?.as_secs_f64() * 1000.0)
        })
        .collect();
    one_way.sort_by(f64::total_cmp);
    let t_ms = percentile(&one_way, 0.5);
    waits.sort_by(f64::total_cmp);
    let total: u64 = by_kind.values().sum();
    let per = |n: u64| {
        if entries == 0 {
            0.0
        } else {
            n as f64 / entries as f64
        }
    };
    let mut messages_per_entry_by_type = BTreeMap::new();
    for kind in MsgKind::ALL {
        let n = by_kind.get(kind.name()).copied().unwrap_or(0);
        messages_per_entry_by_type.insert(kind.name().to_string(), round3(per(n)));
    }
    let bound = 1000.0 / (2.0 * t_ms + settings.hold_ms as f64).max(f64::MIN_POSITIVE);
    // On the client path this checks the named lock the clients took (no overlap across
    // nodes, votes, grants, tokens); `client_figures` adds the clients' own view of tokens.
    let report = check::check(log_dir, config)?;
    let check_summary = if settings.clients > 0 && report.passed() {
        let [_, named] = report.token_lines();
        format!("{}; {named}", report.summary())
    } else {
        report.summary()
    };
    let check_passed = report.passed();
    Ok(BenchReport {
        nodes: settings.nodes,
        tls: settings.tls,
        seconds: settings.seconds,
        hold_ms: settings.hold_ms,
        think_ms: settings.think_ms,
        lease_ms: settings.lease_ms,
        suspect_after_ms: settings
            .suspect_after_ms
            .unwrap_or_else(|| suspect_after_for(settings.nodes)),
        entries,
        entries_per_second: round3(entries_per_second),
        messages_per_entry_by_type,
        messages_per_entry: round3(per(total)),
        messages_per_entry_steady: round3(steady),
        acquire_p50_ms: round3(percentile(&waits, 0.5)),
        acquire_p99_ms: round3(percentile(&waits, 0.99)),
        acquire_max_ms: round3(waits.last().copied().unwrap_or(0.0)),
        one_way_t_ms: round3(t_ms),
        bound_entries_per_second: round3(bound),
        ratio_to_bound: round3(if bound > 0.0 {
            entries_per_second / bound
        } else {
            0.0
        }),
        daemons: usage
            .iter()
            .enumerate()
            .map(|(i, &(rss, cpu))| DaemonUsage {
                node: NodeId(i as u32).0,
                peak_rss_kib: rss,
                cpu_seconds: round3(cpu),
            })
            .collect(),
        check: check_summary,
        check_passed,
        client: None,
    })
}

/// One acquisition as a client saw it.
#[derive(Debug, Clone, Copy)]
struct Acquisition {
    client: usize,
    /// When `Acquired` arrived.
    acquired: Instant,
    /// From the `lock` call to `Acquired`, ms.
    latency_ms: f64,
    /// When the client began to release it.
    releasing: Instant,
    token: u64,
}

/// What the clients did: their acquisitions and how long they ran.
struct ClientRun {
    acquisitions: Vec<Acquisition>,
    elapsed: Duration,
}

/// Runs the clients of the client path on a tokio runtime of their own, until
/// `settings.seconds` after all of them are connected.
fn run_clients(config: &Config, settings: &BenchSettings) -> Result<ClientRun, BenchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(setup_err)?;
    runtime.block_on(async {
        let mut connected = Vec::new();
        for i in 0..settings.clients {
            let node = NodeId((i % settings.nodes) as u32);
            connected.push(connect(config, node).await?);
        }
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(settings.seconds);
        let hold = Duration::from_millis(settings.hold_ms);
        let tasks: Vec<_> = connected
            .into_iter()
            .enumerate()
            .map(|(i, client)| tokio::spawn(client_loop(i, client, hold, deadline)))
            .collect();
        let mut acquisitions = Vec::new();
        for task in tasks {
            let done = task
                .await
                .map_err(|e| BenchError::Client(format!("a client task failed: {e}")))?;
            acquisitions.extend(done?);
        }
        Ok(ClientRun {
            acquisitions,
            elapsed: start.elapsed(),
        })
    })
}

/// Connects to `node`, trying again while the daemon starts.
async fn connect(config: &Config, node: NodeId) -> Result<LockClient, BenchError> {
    let until = Instant::now() + CONNECT_WITHIN;
    loop {
        match LockClient::connect_node(config, node).await {
            Ok(client) => return Ok(client),
            Err(e) if Instant::now() >= until => return Err(BenchError::Client(e.to_string())),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// One client: lock, hold, release, until `deadline`. A lock call still waiting at the
/// deadline is dropped (which ends its session).
async fn client_loop(
    client: usize,
    mut lock_client: LockClient,
    hold: Duration,
    deadline: Instant,
) -> Result<Vec<Acquisition>, BenchError> {
    let options = LockOptions::default().client_label(format!("bench client {client}"));
    let mut out = Vec::new();
    while Instant::now() < deadline {
        let asked = Instant::now();
        let call = lock_client.lock(CLIENT_LOCK, options.clone());
        let guard = match tokio::time::timeout_at(deadline.into(), call).await {
            Err(_) => break,
            Ok(result) => result.map_err(|e| BenchError::Client(e.to_string()))?,
        };
        let acquired = Instant::now();
        if !hold.is_zero() {
            tokio::time::sleep(hold).await;
        }
        let token = guard.token();
        let releasing = Instant::now();
        guard
            .release()
            .await
            .map_err(|e| BenchError::Client(e.to_string()))?;
        out.push(Acquisition {
            client,
            acquired,
            latency_ms: (acquired - asked).as_secs_f64() * 1000.0,
            releasing,
            token,
        });
    }
    Ok(out)
}

/// The first acquisition, in the order the clients got them, whose token is not larger than
/// the one before or that came before the one before began its release.
fn token_violation(sorted: &[Acquisition]) -> Option<String> {
    sorted.windows(2).find_map(|w| {
        let (a, b) = (&w[0], &w[1]);
        if b.token <= a.token {
            Some(format!(
                "client {} got token {} after client {} got token {}",
                b.client, b.token, a.client, a.token
            ))
        } else if b.acquired <= a.releasing {
            Some(format!(
                "client {} got token {} before client {} began to release token {}",
                b.client, b.token, a.client, a.token
            ))
        } else {
            None
        }
    })
}

/// Puts the clients' figures into the report: their latencies replace the node logs'.
fn client_figures(report: &mut BenchReport, settings: &BenchSettings, run: ClientRun, cpu: f64) {
    let mut acquisitions = run.acquisitions;
    acquisitions.sort_by_key(|a| a.acquired);
    let violation = token_violation(&acquisitions);
    let mut latencies: Vec<f64> = acquisitions.iter().map(|a| a.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    report.acquire_p50_ms = round3(percentile(&latencies, 0.5));
    report.acquire_p99_ms = round3(percentile(&latencies, 0.99));
    report.acquire_max_ms = round3(latencies.last().copied().unwrap_or(0.0));
    let locks = acquisitions.len() as u64;
    let messages = report.messages_per_entry * report.entries as f64;
    let elapsed = run.elapsed.as_secs_f64().max(settings.seconds);
    let tokens = match &violation {
        None => format!(
            "tokens passed: {locks} acquisitions of lock {CLIENT_LOCK} by {} clients, tokens strictly increasing in the order they were acquired",
            settings.clients
        ),
        Some(v) => format!("tokens FAILED: {v}"),
    };
    report.check = format!("{}; {tokens}", report.check);
    report.check_passed = report.check_passed && violation.is_none();
    report.client = Some(ClientFigures {
        clients: settings.clients,
        lock: CLIENT_LOCK.to_string(),
        locks,
        locks_per_second: round3(locks as f64 / elapsed),
        messages_per_lock: round3(if locks == 0 {
            0.0
        } else {
            messages / locks as f64
        }),
        clients_cpu_seconds: round3(cpu),
        tokens_increasing: violation.is_none(),
        token_violation: violation,
    });
}

/// How the run's links were secured, in the report's first line.
fn security(tls: bool) -> &'static str {
    if tls {
        "mutual TLS"
    } else {
        "plaintext"
    }
}

/// The report as text for people.
pub fn render(r: &BenchReport) -> String {
    let mut out = match &r.client {
        None => format!(
            "maekawa bench: {} nodes, {} s, hold {} ms, think {} ms, {}\n",
            r.nodes,
            r.seconds,
            r.hold_ms,
            r.think_ms,
            security(r.tls)
        ),
        Some(c) => format!(
            "maekawa bench: {} nodes, {} clients of the Lock service on lock {}, {} s, hold {} ms, {}\n  locks                 {} ({:.1}/s), {:.2} messages per lock\n",
            r.nodes,
            c.clients,
            c.lock,
            r.seconds,
            r.hold_ms,
            security(r.tls),
            c.locks,
            c.locks_per_second,
            c.messages_per_lock,
        ),
    };
    out.push_str(&format!(
        "  CS entries            {} ({:.1}/s)\n",
        r.entries, r.entries_per_second
    ));
    out.push_str(&format!(
        "  messages per entry    {:.2}  ({})\n",
        r.messages_per_entry,
        r.messages_per_entry_by_type
            .iter()
            .filter(|(_, v)| **v > 0.0)
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    out.push_str(&format!(
        "  steady                {:.2} messages per entry between the first and last entry\n",
        r.messages_per_entry_steady
    ));
    out.push_str(&format!(
        "  acquire latency       p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms\n",
        r.acquire_p50_ms, r.acquire_p99_ms, r.acquire_max_ms
    ));
    out.push_str(&format!(
        "  one-way latency T     {:.3} ms (median, send to receive)\n",
        r.one_way_t_ms
    ));
    out.push_str(&format!(
        "  2T bound              {:.1} entries/s = 1 / (2T + hold); measured/bound = {:.2}\n",
        r.bound_entries_per_second, r.ratio_to_bound
    ));
    for d in &r.daemons {
        out.push_str(&format!(
            "  node {:<3} peak RSS {:>6.1} MiB, CPU {:.2} s\n",
            d.node,
            d.peak_rss_kib as f64 / 1024.0,
            d.cpu_seconds
        ));
    }
    if let Some(c) = &r.client {
        out.push_str(&format!(
            "  clients (this process) CPU {:.2} s\n",
            c.clients_cpu_seconds
        ));
    }
    out.push_str(&format!("  {}\n", r.check));
    out
}
