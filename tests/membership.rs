//! Membership changes on real daemons (issue 27): 3 → 5 → 4 nodes by `maekawa cluster add`,
//! `add`, `remove` while clients lock and unlock a fenced counter through `maekawa lock`, and a
//! lock held through the whole change. Afterwards: no lock was lost, every client run saw a
//! token larger than the one before it, the counter lost no update, `maekawa check` passes
//! across the change, and `maekawa quorums` reports the new system.

mod common;

use common::{assert_check_passed, free_ports, signal, wait_exit, wait_for, Cluster, BIN};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const LEASE: [&str; 6] = [
    "--lease-ms",
    "1000",
    "--think-ms",
    "20..80",
    "--hold-ms",
    "1..5",
];

fn cluster_cmd(config: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("cluster")
        .arg("--config")
        .arg(config)
        .args(["--timeout", "60"])
        .args(args)
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

/// A node that is not in the cluster file yet, listening at `addr`.
fn start_joining(c: &Cluster, id: usize, addr: &str) -> Child {
    Command::new(BIN)
        .args(c.node_args(id))
        .args(["--listen", addr])
        .args(LEASE)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn maekawa node")
}

/// One client run: `maekawa lock counter` through node `via`, whose command reads the counter,
/// writes it back plus one and appends its token to `tokens` (all inside the lock).
fn locked_increment(config: &Path, dir: &Path, via: usize) -> Option<i32> {
    let script = format!(
        "n=$(cat {d}/counter); echo $((n+1)) > {d}/counter; echo $MAEKAWA_LOCK_TOKEN >> {d}/tokens",
        d = dir.display()
    );
    let out = Command::new(BIN)
        .args([
            "lock",
            "counter",
            "--timeout",
            "20s",
            "--node",
            &via.to_string(),
        ])
        .arg("--config")
        .arg(config)
        .args(["--", "sh", "-c", &script])
        .output()
        .unwrap();
    out.status.code()
}

/// Client threads locking and unlocking the counter through nodes 0, 1 and 2 until `stop`;
/// returns how many runs succeeded and every exit code that was not 0.
fn clients(
    config: PathBuf,
    dir: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<Option<i32>>)> {
    std::thread::spawn(move || {
        let workers: Vec<_> = (0..3)
            .map(|via| {
                let (config, dir, stop) = (config.clone(), dir.clone(), stop.clone());
                std::thread::spawn(move || {
                    let (mut ok, mut bad) = (0, Vec::new());
                    while !stop.load(Ordering::Relaxed) {
                        match locked_increment(&config, &dir, via) {
                            Some(0) => ok += 1,
                            other => bad.push(other),
                        }
                    }
                    (ok, bad)
                })
            })
            .collect();
        workers
            .into_iter()
            .fold((0, Vec::new()), |(ok, mut bad), w| {
                let (o, b) = w.join().unwrap();
                bad.extend(b);
                (ok + o, bad)
            })
    })
}

fn adopted(c: &Cluster, id: usize, epoch: u64) -> bool {
    std::fs::read_to_string(c.log_dir.join(format!("node-{id}.log")))
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains("\"config_adopted\"") && l.contains(&format!("\"epoch\":{epoch},")))
}

#[test]
fn three_to_five_to_four_nodes_while_clients_lock_and_unlock() {
    let mut c = Cluster::start(3, &LEASE);
    c.wait_for_lock_services(3);
    let dir = c.dir.path().to_path_buf();
    std::fs::write(dir.join("counter"), "0\n").unwrap();
    let ports = free_ports(2);
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();

    // A lock held through node 1 for the whole change: it must not be lost (exit 125).
    let mut held = Command::new(BIN)
        .args([
            "lock",
            "held",
            "--timeout",
            "20s",
            "--node",
            "1",
            "--config",
        ])
        .arg(&c.config)
        .args(["--", "sleep", "6"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let workers = clients(c.config.clone(), dir.clone(), stop.clone());
    wait_for("client runs before the change", WAIT, || {
        std::fs::read_to_string(dir.join("tokens")).is_ok_and(|t| t.lines().count() >= 5)
    });

    let mut joining = vec![start_joining(&c, 3, &addrs[0])];
    let out = cluster_cmd(&c.config, &["add", "3", &addrs[0]]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("epoch 1: joint"), "{}", said(&out));
    joining.push(start_joining(&c, 4, &addrs[1]));
    let out = cluster_cmd(&c.config, &["add", "4", &addrs[1]]);
    assert!(out.status.success(), "{}", said(&out));
    wait_for("node 4 in the CS", WAIT, || c.entries(5)[4] > 0);
    let out = cluster_cmd(&c.config, &["remove", "4"]);
    assert!(out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("done: epoch 6"), "{}", said(&out));
    for id in 0..4 {
        wait_for("every member in epoch 6", WAIT, || adopted(&c, id, 6));
    }
    let before = c.entries(5);
    wait_for("every member entering after the change", WAIT, || {
        c.entries(5)
            .iter()
            .zip(&before)
            .take(4)
            .all(|(now, then)| now > then)
    });
    let status = wait_exit(&mut held, WAIT);
    assert!(
        status.success(),
        "the lock held across the change ended with {status}"
    );

    stop.store(true, Ordering::Relaxed);
    let (ok, bad) = workers.join().unwrap();
    assert!(bad.is_empty(), "client runs that failed: {bad:?}");
    let counter: usize = std::fs::read_to_string(dir.join("counter"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(counter, ok, "the counter lost an update");
    let tokens: Vec<u64> = std::fs::read_to_string(dir.join("tokens"))
        .unwrap()
        .lines()
        .map(|t| t.parse().unwrap())
        .collect();
    assert_eq!(tokens.len(), ok);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "tokens not strictly increasing: {tokens:?}"
    );

    for mut child in joining {
        signal(child.id(), "TERM");
        wait_exit(&mut child, WAIT);
    }
    for status in c.stop_all() {
        assert!(status.success(), "a node exited with {status}");
    }
    assert_check_passed(&c.check());
    let quorums = Command::new(BIN)
        .args(["quorums", "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    let text = said(&quorums);
    assert!(quorums.status.success(), "{text}");
    assert!(text.starts_with("grid: 4 nodes in rows of 2"), "{text}");
    assert!(text.contains("survives: any 1 dead node of 4"), "{text}");
    let ids = Command::new(BIN)
        .args(["quorums", "--ids", "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&ids.stdout), "0\n1\n2\n3\n");
}
