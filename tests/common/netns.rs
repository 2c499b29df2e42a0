//! A cluster over a real network that tests can break: every daemon runs in a Linux network
//! namespace of its own, with its own address on a private /24, and all of them hang off a
//! bridge in a "switch" namespace. So a test can partition nodes (their switch ports move to
//! another bridge) and pause them (SIGSTOP), which loopback cannot show.
//!
//! Nothing here touches the host's interfaces: each link is created inside a namespace this
//! module made (named after the test process's id and a counter, so test binaries running at
//! the same time never meet), and dropping the cluster kills its daemons by PID, reaps them,
//! then deletes those namespaces and with them every link. Needs root and iproute2;
//! [`NetnsCluster::available`] says why not, and a test that gets an `Err` prints
//! `skipped: <reason>` and returns.

use super::{signal, wait_for, write_config_addrs, Cluster, BIN};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The port every node listens on (each has an address of its own).
pub const PORT: u16 = 7000;

/// The bridge every node's switch port is on while the network is whole.
const MAIN_BRIDGE: &str = "br0";
/// The bridge the ports of partitioned nodes move to: they reach each other, not the rest.
const CUT_BRIDGE: &str = "br1";

/// Tells the clusters of one test process apart (tests in one binary run in parallel).
static NEXT_CLUSTER: AtomicU32 = AtomicU32::new(0);

/// The namespaces of one cluster, deleted on drop (which deletes every link made in them).
/// Knows only those it has made, so a setup that fails halfway leaves nothing behind either.
struct Net {
    /// `mkw<pid>-<k>`: the switch is `<prefix>-sw`, node `i` is `<prefix>-n<i>`.
    prefix: String,
    made: Vec<String>,
}

impl Net {
    fn switch(&self) -> String {
        format!("{}-sw", self.prefix)
    }

    fn node(&self, id: usize) -> String {
        format!("{}-n{id}", self.prefix)
    }

    fn add_namespace(&mut self, name: String) -> Result<(), String> {
        ip(&["netns", "add", &name])?;
        self.made.push(name);
        Ok(())
    }

    /// The switch with both bridges, and per node a namespace with loopback up and `eth0` at
    /// `<subnet>.<id + 1>/24`, whose veth peer `n<id>` is a port of the main bridge. Interface
    /// names are per namespace and none is ever made in the host's, so short fixed names
    /// cannot clash.
    fn build(&mut self, n: usize, subnet: &str) -> Result<(), String> {
        let sw = self.switch();
        self.add_namespace(sw.clone())?;
        for bridge in [MAIN_BRIDGE, CUT_BRIDGE] {
            ip(&["-n", &sw, "link", "add", bridge, "type", "bridge"])?;
            ip(&["-n", &sw, "link", "set", bridge, "up"])?;
        }
        for id in 0..n {
            let ns = self.node(id);
            let port = format!("n{id}");
            self.add_namespace(ns.clone())?;
            ip(&[
                "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &sw, "link", "set", &port, "master", MAIN_BRIDGE, "up"])?;
            let addr = format!("{subnet}.{}/24", id + 1);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for name in self.made.iter().rev() {
            if let Err(e) = ip(&["netns", "del", name]) {
                eprintln!("cleaning up: {e}");
            }
        }
    }
}

/// Runs `ip ARGS`; the error names the command and carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` ({e}): install iproute2"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Node `id`'s `host:port` in `subnet` (`10.a.b`).
fn node_addr(subnet: &str, id: usize) -> String {
    format!("{subnet}.{}:{PORT}", id + 1)
}

/// The effective uid, from /proc/self/status (`Uid: real effective saved fs`).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The state letter of process `pid` (`T` when stopped), or `None` when it is gone.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) S ...`: comm may hold spaces and parentheses, the state follows the last `)`.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// A cluster of `maekawa node` processes, each in its own network namespace. Reads its logs
/// through [`Cluster`]; dropping it kills every daemon by PID, then deletes the namespaces.
pub struct NetnsCluster {
    // Fields drop in order: the daemons die before their namespaces go.
    cluster: Cluster,
    net: Net,
    /// `10.a.b`: node `i` is `10.a.b.<i + 1>`.
    subnet: String,
    /// The flags each node was last started with, for [`NetnsCluster::restart`].
    args: Vec<Vec<String>>,
    paused: Vec<bool>,
}

impl NetnsCluster {
    /// `Ok` when this process can build a cluster: it is root and `ip` can make a namespace
    /// with a bridge and a veth pair in it (tried once per process); else why not.
    pub fn available() -> Result<(), String> {
        static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
        PROBE
            .get_or_init(|| {
                match effective_uid() {
                    Some(0) => {}
                    Some(uid) => {
                        return Err(format!("not root (uid {uid}): network namespaces need it"))
                    }
                    None => return Err("cannot read the uid from /proc/self/status".into()),
                }
                let mut net = Net {
                    prefix: format!("mkw{}-probe", std::process::id()),
                    made: Vec::new(),
                };
                net.build(1, "10.255.255")
            })
            .clone()
    }

    /// Namespaces, links and a cluster file for `n` nodes, of which none runs yet.
    pub fn prepare(n: usize) -> NetnsCluster {
        NetnsCluster::prepare_with_spares(n, 0)
    }

    /// As [`NetnsCluster::prepare`], with `spares` more hosts (namespaces `n..n + spares`, with
    /// their addresses) that the cluster file does not list: new hosts for membership changes.
    pub fn prepare_with_spares(n: usize, spares: usize) -> NetnsCluster {
        assert!(
            (1..=250).contains(&(n + spares)),
            "{n} nodes: one /24 holds 1 to 250"
        );
        let pid = std::process::id();
        let k = NEXT_CLUSTER.fetch_add(1, Ordering::Relaxed);
        // The namespaces isolate each cluster already; distinct subnets per process and
        // cluster only keep addresses in logs and `ip` listings from looking alike.
        let subnet = format!("10.{}.{}", pid % 256, k % 256);
        let mut net = Net {
            prefix: format!("mkw{pid}-{k}"),
            made: Vec::new(),
        };
        if let Err(e) = net.build(n + spares, &subnet) {
            panic!("building the test network: {e}");
        }
        let addrs: Vec<String> = (0..n).map(|id| node_addr(&subnet, id)).collect();
        let cluster = Cluster::prepare_with(n, |dir| write_config_addrs(dir, &addrs));
        // Addresses that are not loopback: the nodes run with mutual TLS, as on real hosts
        // (plaintext there would need --insecure).
        let made = std::process::Command::new(BIN)
            .args(["certs", "init", "--config"])
            .arg(&cluster.config)
            .output()
            .expect("run maekawa certs init");
        assert!(
            made.status.success(),
            "maekawa certs init: {}",
            String::from_utf8_lossy(&made.stderr)
        );
        NetnsCluster {
            cluster,
            net,
            subnet,
            args: vec![Vec::new(); n],
            paused: vec![false; n],
        }
    }

    /// `n` nodes, all started with `extra_args`.
    pub fn start(n: usize, extra_args: &[&str]) -> NetnsCluster {
        let mut c = NetnsCluster::prepare(n);
        for id in 0..n {
            c.start_node(id, extra_args);
        }
        c
    }

    /// Starts node `id` in its namespace (`ip netns exec`, which execs the daemon in place,
    /// so the child's PID is the daemon's) with its own flags.
    pub fn start_node(&mut self, id: usize, args: &[&str]) {
        assert!(
            self.cluster.children[id].is_none(),
            "node {id} runs already"
        );
        let child = Command::new("ip")
            .args(["netns", "exec", &self.net.node(id), BIN])
            .args(self.cluster.node_args(id))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ip netns exec maekawa node");
        self.cluster.children[id] = Some(child);
        self.args[id] = args.iter().map(|s| s.to_string()).collect();
        self.paused[id] = false;
    }

    /// Starts node `id` on host `host` (a spare's namespace: a new host for the id), listening
    /// at that host's address (`--listen`).
    #[allow(dead_code)]
    pub fn start_node_on(&mut self, id: usize, host: usize, args: &[&str]) {
        assert!(
            self.cluster.children[id].is_none(),
            "node {id} runs already"
        );
        let addr = self.addr(host);
        let child = Command::new("ip")
            .args(["netns", "exec", &self.net.node(host), BIN])
            .args(self.cluster.node_args(id))
            .args(["--listen", &addr])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ip netns exec maekawa node");
        self.cluster.children[id] = Some(child);
        self.args[id] = args.iter().map(|s| s.to_string()).collect();
        self.paused[id] = false;
    }

    /// Runs `maekawa ARGS` on host `host` (in its namespace), as an operator or a client there.
    #[allow(dead_code)]
    pub fn maekawa_on(&self, host: usize, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.net.node(host), BIN])
            .args(args)
            .output()
            .expect("run ip netns exec maekawa")
    }

    /// The cluster file.
    #[allow(dead_code)]
    pub fn config(&self) -> &std::path::Path {
        &self.cluster.config
    }

    /// The log directory every node writes to (their disks).
    #[allow(dead_code)]
    pub fn log_dir(&self) -> &std::path::Path {
        &self.cluster.log_dir
    }

    /// The cluster's directory (scratch space for a test's fenced resource).
    #[allow(dead_code)]
    pub fn dir(&self) -> &std::path::Path {
        self.cluster.dir.path()
    }

    /// The PID of running node `id`.
    pub fn pid(&self, id: usize) -> u32 {
        self.cluster.children[id]
            .as_ref()
            .unwrap_or_else(|| panic!("node {id} is not running"))
            .id()
    }

    /// `kill -9` node `id` (by PID; also when paused) and reap it.
    pub fn kill9(&mut self, id: usize) {
        self.cluster.kill9(id);
        self.paused[id] = false;
    }

    /// Starts node `id` again with the flags it last had, `kill -9`ing it first if it runs.
    pub fn restart(&mut self, id: usize) {
        if self.cluster.children[id].is_some() {
            self.kill9(id);
        }
        let args = self.args[id].clone();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.start_node(id, &args);
    }

    /// SIGSTOP node `id`; returns once the kernel shows it stopped.
    pub fn pause(&mut self, id: usize) {
        let pid = self.pid(id);
        signal(pid, "STOP");
        wait_for(
            &format!("node {id} to stop"),
            Duration::from_secs(5),
            || process_state(pid) == Some('T'),
        );
        self.paused[id] = true;
    }

    /// SIGCONT node `id`; returns once it is no longer stopped.
    pub fn resume(&mut self, id: usize) {
        let pid = self.pid(id);
        signal(pid, "CONT");
        wait_for(
            &format!("node {id} to continue"),
            Duration::from_secs(5),
            || process_state(pid) != Some('T'),
        );
        self.paused[id] = false;
    }

    /// Cuts `ids` off from the rest: their switch ports move to a second bridge, so they still
    /// reach each other, and packets between the two sides are dropped silently, as in a real
    /// partition (no link goes down, no connection is reset; the daemons notice by keepalive).
    pub fn partition(&mut self, ids: &[usize]) {
        for &id in ids {
            self.set_port_bridge(id, CUT_BRIDGE);
        }
    }

    /// Puts every node back on one bridge.
    pub fn heal(&mut self) {
        for id in 0..self.args.len() {
            self.set_port_bridge(id, MAIN_BRIDGE);
        }
    }

    fn set_port_bridge(&self, id: usize, bridge: &str) {
        let port = format!("n{id}");
        if let Err(e) = ip(&[
            "-n",
            &self.net.switch(),
            "link",
            "set",
            &port,
            "master",
            bridge,
        ]) {
            panic!("{e}");
        }
    }

    /// The names of the namespaces this cluster made (the switch's first).
    pub fn namespaces(&self) -> Vec<String> {
        self.net.made.clone()
    }

    /// `host:port` of node `id`.
    pub fn addr(&self, id: usize) -> String {
        node_addr(&self.subnet, id)
    }

    /// Lines of node `id`'s log so far.
    pub fn node_log(&self, id: usize) -> Vec<serde_json::Value> {
        self.cluster.node_log(id)
    }

    /// Lines of critical_section.log so far.
    pub fn cs_lines(&self) -> Vec<serde_json::Value> {
        self.cluster.cs_lines()
    }

    /// CS entries per node so far.
    pub fn entries(&self) -> Vec<usize> {
        self.cluster.entries(self.args.len())
    }

    /// SIGTERM every running node (paused ones are resumed first, or the signal would wait)
    /// and wait, bounded, for each to exit; returns their statuses.
    pub fn stop_all(&mut self) -> Vec<ExitStatus> {
        for id in 0..self.paused.len() {
            if self.paused[id] {
                self.resume(id);
            }
        }
        self.cluster.stop_all()
    }

    /// Runs `maekawa check` on this cluster's logs.
    pub fn check(&self) -> Output {
        self.cluster.check()
    }
}
