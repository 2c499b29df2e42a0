//! Availability (issue 14) on real processes on 127.0.0.1: nodes killed for good, never
//! restarted; the survivors keep entering the CS by switching to quorums without the dead and
//! reclaiming the votes the dead held, and `maekawa check` passes on the logs.

mod common;

use common::{assert_check_passed, wait_for, Cluster, QUICK_FAULTS};
use std::time::Duration;

/// A busy workload, so that kills find nodes in every phase.
const BUSY: [&str; 4] = ["--think-ms", "5..30", "--hold-ms", "1..5"];

/// Stops every live node (each must exit 0) and runs `maekawa check` on the logs.
fn stop_and_check(cluster: &mut Cluster) {
    let statuses = cluster.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    assert_check_passed(&cluster.check());
}

/// Kills `dead` for good once every node has entered a few times, then waits until every
/// live node has entered `more` more times; stops the rest and runs `maekawa check`.
fn survivors_keep_entering(n: usize, dead: &[usize], more: usize, deadline: Duration) {
    let mut cluster = Cluster::start(n, &[&BUSY[..], &QUICK_FAULTS[..]].concat());
    wait_for(
        "every node to enter 3 times",
        Duration::from_secs(30),
        || cluster.entries(n).iter().all(|&e| e >= 3),
    );
    for &d in dead {
        cluster.kill9(d);
    }
    let before = cluster.entries(n);
    let live: Vec<usize> = (0..n).filter(|i| !dead.contains(i)).collect();
    wait_for(
        &format!("every live node of {n} to enter {more} more times with {dead:?} dead"),
        deadline,
        || {
            let now = cluster.entries(n);
            live.iter().all(|&i| now[i] >= before[i] + more)
        },
    );
    stop_and_check(&mut cluster);
    // The survivors said why they moved: a suspicion of each dead node, and quorum switches.
    for &i in &live {
        let log = cluster.node_log(i);
        for &d in dead {
            assert!(
                log.iter()
                    .any(|l| l["event"] == "suspect" && l["peer"] == d as u64),
                "node {i} never suspected node {d}"
            );
        }
    }
    let switches: Vec<serde_json::Value> = live
        .iter()
        .flat_map(|&i| cluster.node_log(i))
        .filter(|l| l["event"] == "quorum_switch")
        .collect();
    assert!(!switches.is_empty(), "no live node switched quorum");
    // Each switch names its quorums as JSON arrays.
    for l in &switches {
        let to = l["to_quorum"].as_array().unwrap_or_else(|| panic!("{l}"));
        assert!(l["from_quorum"].is_array(), "{l}");
        assert!(!to.is_empty(), "{l}");
    }
}

/// Issue 14, test b: 3 nodes, 1 killed for good: the other 2 keep entering.
#[test]
fn three_nodes_one_killed_for_good_the_other_two_keep_entering() {
    survivors_keep_entering(3, &[2], 20, Duration::from_secs(30));
}

/// Issue 14, test a: 9 nodes, 2 killed for good: every live node keeps entering.
#[test]
fn nine_nodes_two_killed_for_good_every_live_node_keeps_entering() {
    survivors_keep_entering(9, &[4, 6], 10, Duration::from_secs(60));
}

/// A resource that checks fencing tokens, as a shell script: under `flock`, a write with a
/// token lower than the largest it accepted is refused (exit 1), any other is accepted. Each
/// decision is a line of `resource.log`.
const FENCED_WRITE: &str = r#"#!/bin/sh
# usage: fenced-write TOKEN WHO
exec 9>"$(dirname "$0")/resource.lock"
flock 9
max=$(cat "$(dirname "$0")/resource.max" 2>/dev/null || echo 0)
if [ "$1" -lt "$max" ]; then
  echo "refused $1 $2" >> "$(dirname "$0")/resource.log"
  exit 1
fi
echo "$1" > "$(dirname "$0")/resource.max"
echo "accepted $1 $2" >> "$(dirname "$0")/resource.log"
"#;

/// Issue 14, test d: the daemon through which a client holds a lock is paused (SIGSTOP) past
/// its lease. The lock moves on to a client of another node, with a larger token; the first
/// client, still running, writes late with its old token, and the fenced resource refuses it.
/// When the paused daemon resumes it reports that the lease ran out.
#[test]
fn a_holder_paused_past_its_lease_loses_the_lock_and_its_late_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let cluster = Cluster::start(3, &[&["--workload", "manual"], &QUICK_FAULTS[..]].concat());
    cluster.wait_for_lock_services(3);
    let dir = cluster.dir.path();
    let script = dir.join("fenced-write");
    std::fs::write(&script, FENCED_WRITE).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    // Client A holds `res` through node 0: it writes, then waits for B to be done (it ignores
    // SIGTERM, as a process busy elsewhere would), then writes again with its old token.
    let a_cmd = format!(
        "trap '' TERM; {w} $MAEKAWA_LOCK_TOKEN A; touch a_wrote; \
         while [ ! -f b_done ]; do sleep 0.05; done; {w} $MAEKAWA_LOCK_TOKEN A-late; touch a_done",
        w = script.display()
    );
    let mut a = std::process::Command::new(common::BIN)
        .args(["lock", "res", "--node", "0", "--grace", "30s", "--config"])
        .arg(&cluster.config)
        .args(["--", "sh", "-c", &a_cmd])
        .current_dir(dir)
        .stderr(std::fs::File::create(dir.join("client-a.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for("client A's first write", Duration::from_secs(10), || {
        let err = std::fs::read_to_string(dir.join("client-a.err")).unwrap_or_default();
        assert!(!err.contains("error"), "client A: {err}");
        dir.join("a_wrote").exists()
    });
    let node0 = cluster.children[0].as_ref().unwrap().id();
    common::signal(node0, "STOP");
    // Client B, through node 1, gets the lock once node 0's votes are reclaimed.
    let b = std::process::Command::new(common::BIN)
        .args(["lock", "res", "--node", "1", "--timeout", "20s", "--config"])
        .arg(&cluster.config)
        .args([
            "--",
            "sh",
            "-c",
            &format!("{} $MAEKAWA_LOCK_TOKEN B", script.display()),
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(b.status.success(), "client B: {b:?}");
    std::fs::write(dir.join("b_done"), "").unwrap();
    wait_for("client A's late write", Duration::from_secs(10), || {
        dir.join("a_done").exists()
    });
    let log = std::fs::read_to_string(dir.join("resource.log")).unwrap();
    let lines: Vec<Vec<&str>> = log.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!((lines[0][0], lines[0][2]), ("accepted", "A"), "{log}");
    assert_eq!((lines[1][0], lines[1][2]), ("accepted", "B"), "{log}");
    assert_eq!((lines[2][0], lines[2][2]), ("refused", "A-late"), "{log}");
    let (ta, tb): (u64, u64) = (lines[0][1].parse().unwrap(), lines[1][1].parse().unwrap());
    assert!(tb > ta, "B's token {tb} must exceed A's {ta}: {log}");
    // Node 0 resumes: its lease ran out long ago, and it says so.
    common::signal(node0, "CONT");
    common::wait_exit(&mut a, Duration::from_secs(40));
    wait_for(
        "node 0's lease_expired line",
        Duration::from_secs(10),
        || {
            cluster
                .node_log(0)
                .iter()
                .any(|l| l["event"] == "lease_expired" && l["lock"] == "res")
        },
    );
    let reclaimed = (1..3).any(|i| {
        cluster
            .node_log(i)
            .iter()
            .any(|l| l["event"] == "revote" && l["what"] == "reclaimed" && l["lock"] == "res")
    });
    assert!(reclaimed, "a voter must log the reclaim");
    // The logs agree: node 0's entry of `res` ended when its lease ran out, before B's.
    let mut cluster = cluster;
    stop_and_check(&mut cluster);
}
