//! scripts/netns-cluster.sh end to end: three nodes as three "hosts" (a network namespace
//! each, mutual TLS), a node partitioned away and healed, `stop` leaving no namespace of the
//! run and no node process, and `maekawa check` on the run. Skipped, with the reason, where
//! network namespaces cannot be made (not root, no iproute2).

mod common;

use common::netns::NetnsCluster;
use common::{assert_check_passed, read_json_lines, wait_for, BIN};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(20);

fn script(args: &[&str], run_dir: &Path) -> Output {
    Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/netns-cluster.sh"
    ))
    .args(args)
    .env("MAEKAWA_LOG_DIR", run_dir)
    .env("MAEKAWA_NODE_ARGS", "--think-ms 10..50 --hold-ms 1..5")
    .env("MAEKAWA_BIN", BIN)
    .env("SKIP_BUILD", "1")
    .output()
    .unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `stop` when the test ends, even by a panic: the nodes run in the background.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = script(&["stop"], &self.0);
    }
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat[stat.rfind(')').unwrap() + 1..]
            .trim_start()
            .starts_with('Z')
    })
}

fn entries(run_dir: &Path, n: u64) -> Vec<usize> {
    let lines = read_json_lines(&run_dir.join("critical_section.log"));
    (0..n)
        .map(|id| {
            lines
                .iter()
                .filter(|l| l["event"] == "enter" && l["node"] == id)
                .count()
        })
        .collect()
}

fn namespaces_with(prefix: &str) -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn netns_cluster_script_starts_partitions_heals_and_stops() {
    if let Err(reason) = NetnsCluster::available() {
        println!("skipped: {reason}");
        return;
    }
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let _stop = StopOnDrop(run.clone());

    let start = script(&["start", "3"], &run);
    assert!(start.status.success(), "start 3:\n{}", said(&start));
    let state = std::fs::read_to_string(run.join("netns.env")).unwrap();
    let prefix = state
        .lines()
        .find_map(|l| l.strip_prefix("PREFIX="))
        .expect("PREFIX= in netns.env")
        .to_string();
    assert_eq!(namespaces_with(&format!("{prefix}-")).len(), 4, "{state}");
    let pids: Vec<u32> = (0..3)
        .map(|id| {
            std::fs::read_to_string(run.join(format!("node-{id}.pid")))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    let config = std::fs::read_to_string(run.join("quorums.json")).unwrap();
    assert!(!config.contains("127.0.0.1"), "{config}");
    assert!(run.join("certs").is_dir(), "no certificates were made");

    wait_for("5 entries of each node", WAIT, || {
        entries(&run, 3).iter().all(|&e| e >= 5)
    });
    let status = script(&["status"], &run);
    assert!(status.status.success(), "{}", said(&status));
    assert_eq!(
        said(&status).matches("running").count(),
        3,
        "{}",
        said(&status)
    );

    // Node 2's quorum is {0, 2}: cut off from node 0, it hears nothing from it and suspects
    // it (after --suspect-after, 1 s), and its health turns NOT_SERVING.
    let logged = read_json_lines(&run.join("node-2.log")).len();
    let cut = script(&["partition", "2", "/", "0,1"], &run);
    assert!(cut.status.success(), "partition:\n{}", said(&cut));
    wait_for("node 2 to suspect node 0", WAIT, || {
        read_json_lines(&run.join("node-2.log"))
            .iter()
            .skip(logged)
            .any(|l| l["event"] == "suspect" && l["peer"] == 0)
    });
    let status = said(&script(&["status"], &run));
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("2 ") && l.ends_with(" cut")),
        "{status}"
    );
    let heal = script(&["heal"], &run);
    assert!(heal.status.success(), "heal:\n{}", said(&heal));
    let after: Vec<usize> = entries(&run, 3).iter().map(|e| e + 3).collect();
    wait_for("3 more entries of each node after healing", WAIT, || {
        entries(&run, 3).iter().zip(&after).all(|(e, min)| e >= min)
    });

    let stop = script(&["stop"], &run);
    assert!(stop.status.success(), "stop:\n{}", said(&stop));
    assert_eq!(said(&stop).matches("stopped").count(), 3, "{}", said(&stop));
    for pid in pids {
        assert!(!alive(pid), "node PID {pid} still runs after stop");
    }
    assert_eq!(
        namespaces_with(&format!("{prefix}-")),
        Vec::<String>::new(),
        "namespaces of the run left after stop"
    );
    let check = Command::new(BIN)
        .arg("check")
        .arg("--log-dir")
        .arg(&run)
        .arg("--config")
        .arg(run.join("quorums.json"))
        .output()
        .unwrap();
    assert_check_passed(&check);
    println!("took {:?}", began.elapsed());
}

/// Not root: a clear error and exit 1, and nothing made. As root, the script runs as uid
/// 65534 (nobody) through util-linux's setpriv.
#[test]
fn netns_cluster_script_refuses_without_root() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let script_path = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/netns-cluster.sh");
    let is_root = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"));
    let mut cmd = if is_root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
            script_path,
        ]);
        c
    } else {
        Command::new(script_path)
    };
    let out = match cmd
        .args(["start", "3"])
        .env("MAEKAWA_LOG_DIR", &run)
        .env("MAEKAWA_BIN", BIN)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            println!("skipped: cannot run the script as another user ({e})");
            return;
        }
    };
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(said(&out).contains("needs root"), "{}", said(&out));
    assert!(!run.exists(), "a refused start made its run directory");
}
