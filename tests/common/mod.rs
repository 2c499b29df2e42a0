//! Shared helpers for process-level tests: a cluster of real `maekawa node` processes on free
//! loopback ports in a temporary directory, stopped by PID when the test ends.
#![allow(dead_code)]

pub mod netns;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_maekawa");

/// Node flags that make faults show within a second: suspicion after 300 ms of silence, leases
/// of 1 s reclaimed 1.4 s after the last renewal (the defaults are 1 s, 3 s and 4 s).
pub const QUICK_FAULTS: [&str; 6] = [
    "--suspect-after",
    "300",
    "--lease-ms",
    "1000",
    "--reclaim-ms",
    "1400",
];

/// Panics with `maekawa check`'s output unless it passed.
pub fn assert_check_passed(check: &std::process::Output) {
    assert!(
        check.status.success(),
        "maekawa check failed:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

/// Ports that were free a moment ago, below the kernel's ephemeral range, so that no outgoing
/// connection of a process running at the same time can be given one before a daemon binds it
/// (the same choice `maekawa bench` makes).
pub fn free_ports(n: usize) -> Vec<u16> {
    maekawa::bench::free_ports(n).expect("free loopback ports below the ephemeral range")
}

/// Writes a quorums.json for `n` nodes on free loopback ports ([`free_ports`]).
pub fn write_config(dir: &Path, n: usize) -> PathBuf {
    write_config_on(dir, &free_ports(n))
}

/// Writes a quorums.json with node `i` on `127.0.0.1:ports[i]`.
pub fn write_config_on(dir: &Path, ports: &[u16]) -> PathBuf {
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    write_config_addrs(dir, &addrs)
}

/// Writes a quorums.json with node `i` at `addrs[i]` (`host:port`).
pub fn write_config_addrs(dir: &Path, addrs: &[String]) -> PathBuf {
    let nodes: Vec<String> = addrs
        .iter()
        .enumerate()
        .map(|(i, a)| format!(r#"    {{"id": {i}, "addr": "{a}"}}"#))
        .collect();
    let path = dir.join("quorums.json");
    std::fs::write(
        &path,
        format!("{{\n  \"nodes\": [\n{}\n  ]\n}}\n", nodes.join(",\n")),
    )
    .unwrap();
    path
}

/// Polls `cond` until it holds or `deadline` passes.
pub fn wait_for(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A running cluster; every process still alive is killed (by PID) on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub log_dir: PathBuf,
    pub children: Vec<Option<Child>>,
    pub extra_args: Vec<String>,
}

impl Cluster {
    pub fn start(n: usize, extra_args: &[&str]) -> Cluster {
        let mut cluster = Cluster::prepare(n);
        cluster.extra_args = extra_args.iter().map(|s| s.to_string()).collect();
        for id in 0..n {
            cluster.children[id] = Some(cluster.spawn(id));
        }
        cluster
    }

    /// A cluster of `n` configured nodes of which none runs yet.
    pub fn prepare(n: usize) -> Cluster {
        Cluster::prepare_with(n, |dir| write_config(dir, n))
    }

    /// Like [`Cluster::prepare`], with the cluster file written by `write_config` (given the
    /// cluster's directory, it returns the file's path).
    pub fn prepare_with(n: usize, write_config: impl FnOnce(&Path) -> PathBuf) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path());
        let log_dir = dir.path().join("logs");
        std::fs::create_dir_all(&log_dir).unwrap();
        Cluster {
            dir,
            config,
            log_dir,
            children: (0..n).map(|_| None).collect(),
            extra_args: Vec::new(),
        }
    }

    /// `node --id <id> --config <file> --log-dir <dir>`: the arguments every node starts with.
    pub fn node_args(&self, id: usize) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["node", "--id", &id.to_string(), "--config"]
            .map(OsString::from)
            .into();
        args.push(self.config.clone().into());
        args.push("--log-dir".into());
        args.push(self.log_dir.clone().into());
        args
    }

    /// Starts node `id` with its own flags (replacing any dead process in its slot).
    pub fn start_node(&mut self, id: usize, args: &[&str]) {
        let child = Command::new(BIN)
            .args(self.node_args(id))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn maekawa node");
        self.children[id] = Some(child);
    }

    /// `kill -9` node `id` (by PID) and reap it.
    pub fn kill9(&mut self, id: usize) {
        let mut child = self.children[id].take().expect("node is running");
        signal(child.id(), "KILL");
        child.wait().unwrap();
    }

    /// Waits until each of the first `n` nodes answers `maekawa locks` (its lock service is up).
    pub fn wait_for_lock_services(&self, n: usize) {
        for id in 0..n {
            wait_for("the lock service", Duration::from_secs(20), || {
                Command::new(BIN)
                    .args(["locks", "--node", &id.to_string(), "--config"])
                    .arg(&self.config)
                    .output()
                    .unwrap()
                    .status
                    .success()
            });
        }
    }

    /// `maekawa ctl --config <this cluster's file> ARGS`: exit code, stdout, stderr.
    pub fn ctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("ctl")
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `ctl --node NODE status`, which must succeed: the node's state as ctl prints it.
    pub fn status(&self, node: &str) -> String {
        let (code, out, err) = self.ctl(&["--node", node, "status"]);
        assert_eq!(code, 0, "{err}");
        out
    }

    /// Node `id`'s address in the cluster file.
    #[allow(dead_code)]
    pub fn config_addr(&self, id: usize) -> String {
        let config = maekawa::config::Config::load(&self.config).unwrap();
        let node = config.node(maekawa_core::id::NodeId(id as u32)).unwrap();
        node.addr.clone()
    }

    /// Lines of node `id`'s log so far.
    pub fn node_log(&self, id: usize) -> Vec<serde_json::Value> {
        read_json_lines(&self.log_dir.join(format!("node-{id}.log")))
    }

    pub fn spawn(&self, id: usize) -> Child {
        Command::new(BIN)
            .args(self.node_args(id))
            .args(&self.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn maekawa node")
    }

    /// Lines of critical_section.log (empty if not there yet).
    pub fn cs_lines(&self) -> Vec<serde_json::Value> {
        read_json_lines(&self.log_dir.join("critical_section.log"))
    }

    /// CS entries per node so far.
    pub fn entries(&self, n: usize) -> Vec<usize> {
        let mut counts = vec![0; n];
        for line in self.cs_lines() {
            if line["event"] == "enter" {
                counts[line["node"].as_u64().unwrap() as usize] += 1;
            }
        }
        counts
    }

    /// SIGTERM every live node and wait (bounded) for each to exit; returns their statuses.
    pub fn stop_all(&mut self) -> Vec<ExitStatus> {
        for child in self.children.iter().flatten() {
            signal(child.id(), "TERM");
        }
        let mut statuses = Vec::new();
        for slot in self.children.iter_mut() {
            if let Some(mut child) = slot.take() {
                statuses.push(wait_exit(&mut child, Duration::from_secs(15)));
            }
        }
        statuses
    }

    /// Runs `maekawa check` on this cluster's logs.
    pub fn check(&self) -> std::process::Output {
        Command::new(BIN)
            .arg("check")
            .arg("--log-dir")
            .arg(&self.log_dir)
            .arg("--config")
            .arg(&self.config)
            .output()
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pid}");
}

/// Waits for `child` to exit within `deadline`, killing it (and failing) if it does not.
pub fn wait_exit(child: &mut Child, deadline: Duration) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            panic!("process {} did not exit within {deadline:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn read_json_lines(path: &Path) -> Vec<serde_json::Value> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line still being written (no newline yet) is left for the next read.
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    complete
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {l}", path.display()))
        })
        .collect()
}

/// A peer link's first frame: node `from` greets node `to` as `incarnation` (token floor 0).
pub fn hello_frame(from: u32, to: u32, incarnation: u64) -> maekawa::daemon::wire::LinkFrame {
    use maekawa::daemon::wire;
    wire::LinkFrame {
        body: Some(wire::link_frame::Body::Hello(wire::Hello {
            from,
            to,
            incarnation,
            token: 0,
            // Unchecked: a hand-made Hello may speak for a running process.
            boot: 0,
            awaits_floor: false,
            epoch: 0,
            addr: String::new(),
        })),
    }
}

/// A child process killed (by PID) and reaped when dropped, also when the test panics first:
/// a failed test leaves nothing running.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
