//! The bench's daemons as processes: the cluster file with free loopback ports, starting N
//! `maekawa node` processes, waiting for their `start` lines, watching that none dies,
//! sampling their memory and CPU from /proc, and stopping them with SIGTERM.
//!
//! It only starts and watches processes; it reads no log but the CS log's `start` lines.

use super::{setup_err, BenchError, BenchSettings};
use crate::logdir;
use maekawa_core::id::NodeId;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// How long the bench waits for every daemon's `start` line before it gives up: 10 s, and
/// 200 ms more per daemon (100 start in about 3 s on 2 cores).
fn start_within(nodes: usize) -> Duration {
    Duration::from_secs(10) + Duration::from_millis(200 * nodes as u64)
}

/// The running daemons, killed when dropped (on any error of the run).
pub(super) struct Daemons {
    pub(super) children: Vec<Child>,
}

impl Drop for Daemons {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts one daemon per node of `settings`, with its stderr in the log directory.
pub(super) fn spawn(
    settings: &BenchSettings,
    config_path: &Path,
    log_dir: &Path,
    suspect_after: u64,
) -> Result<Daemons, BenchError> {
    let exe = std::env::current_exe().map_err(setup_err)?;
    // Each daemon keeps a connection to and from every peer; its children inherit this.
    raise_open_files_limit();
    let mut daemons = Daemons {
        children: Vec::new(),
    };
    for id in 0..settings.nodes {
        let err =
            std::fs::File::create(logdir::stderr(log_dir, NodeId(id as u32))).map_err(setup_err)?;
        let child = Command::new(&exe)
            .args(["node", "--id", &id.to_string()])
            .arg("--config")
            .arg(config_path)
            .arg("--log-dir")
            .arg(log_dir)
            .args(["--think-ms", &settings.think_ms.to_string()])
            .args(["--hold-ms", &settings.hold_ms.to_string()])
            .args(["--suspect-after", &suspect_after.to_string()])
            .args(
                settings
                    .lease_ms
                    .map(|l| vec!["--lease-ms".to_string(), l.to_string()])
                    .unwrap_or_default(),
            )
            .args(
                settings
                    .handover
                    .map(|h| vec!["--handover".to_string(), h.name().to_string()])
                    .unwrap_or_default(),
            )
            .args(if settings.journal_votes {
                &["--journal-votes"][..]
            } else {
                &[]
            })
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

    Ok(daemons)
}

impl Daemons {
    /// Sends SIGTERM to every daemon and waits for them to exit.
    pub(super) fn stop(&mut self) {
        for child in &self.children {
            // SAFETY: plain kill(2) on the PID of a child we own and have not reaped.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}

/// Waits until `critical_section.log` holds a `start` line of each of the `nodes` daemons;
/// fails when one dies or they take longer than [`start_within`].
pub(super) fn wait_for_starts(
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
pub(super) fn died(daemons: &mut Daemons, log_dir: &Path) -> Result<(), BenchError> {
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

/// Writes a cluster file of `n` nodes on free loopback ports.
pub(super) fn write_config(path: &Path, n: usize) -> Result<(), BenchError> {
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
    // A port handed out once is never handed out again by this process: two tests of one
    // binary probing at once could otherwise both find the same port free before either binds.
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let ports: Vec<u16> = (0..span)
        .map(|i| first + ((start + i) % span) as u16)
        .filter(|port| !given.contains(port))
        .filter(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .take(n)
        .collect();
    given.extend(ports.iter().copied());
    if ports.len() < n {
        return Err(setup_err(format!(
            "fewer than {n} free ports in {first}..={last}"
        )));
    }
    Ok(ports)
}

/// (peak RSS KiB, CPU seconds) of a process, from /proc (`VmHWM`, `utime + stime`).
pub(super) fn proc_usage(pid: u32) -> Option<(u64, f64)> {
    let process = procfs::process::Process::new(i32::try_from(pid).ok()?).ok()?;
    let peak_rss_kib = process.status().ok()?.vmhwm?;
    let stat = process.stat().ok()?;
    let cpu_seconds = (stat.utime + stat.stime) as f64 / procfs::ticks_per_second() as f64;
    Some((peak_rss_kib, cpu_seconds))
}
/// `enter` lines of the CS log so far, for the progress bar.
pub(super) fn count_enters(path: &Path) -> usize {
    std::fs::read_to_string(path)
        .map(|t| t.matches("\"event\":\"enter\"").count())
        .unwrap_or(0)
}
