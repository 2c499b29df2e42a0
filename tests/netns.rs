//! Faults loopback cannot make: each daemon in its own network namespace (tests/common/netns.rs),
//! a node cut off by a real partition and healed, and a node paused with SIGSTOP, resumed and
//! restarted. After each, every node enters the CS again and `maekawa check` passes. Skipped,
//! with the reason, where network namespaces cannot be made (not root, no iproute2).

mod common;

use common::netns::NetnsCluster;
use common::wait_for;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Short think and hold times, so each node enters several times a second.
const FAST: [&str; 4] = ["--think-ms", "10..50", "--hold-ms", "1..5"];

fn netns_available() -> bool {
    match NetnsCluster::available() {
        Ok(()) => true,
        Err(reason) => {
            println!("skipped: {reason}");
            false
        }
    }
}

/// Waits until every node has at least `at_least[i]` entries.
fn wait_for_entries(c: &NetnsCluster, what: &str, at_least: &[usize]) {
    wait_for(what, WAIT, || {
        c.entries().iter().zip(at_least).all(|(e, min)| e >= min)
    });
}

fn plus(entries: &[usize], more: usize) -> Vec<usize> {
    entries.iter().map(|e| e + more).collect()
}

/// A `peer_down` about `peer` in node `id`'s log after its first `from` lines.
fn peer_down_since(c: &NetnsCluster, id: usize, from: usize, peer: usize) -> bool {
    c.node_log(id)
        .iter()
        .skip(from)
        .any(|l| l["event"] == "peer_down" && l["peer"] == peer)
}

fn stop_and_check(c: &mut NetnsCluster) {
    for status in c.stop_all() {
        assert!(status.success(), "a node exited with {status} on SIGTERM");
    }
    common::assert_check_passed(&c.check());
}

#[test]
fn a_partitioned_node_loses_its_links_and_enters_again_after_healing() {
    if !netns_available() {
        return;
    }
    let mut c = NetnsCluster::start(3, &FAST);
    wait_for_entries(&c, "5 entries of each node", &[5, 5, 5]);

    // In the 3-node grid node 2's quorum is {0, 2}: it links to node 0 only.
    let logged = c.node_log(2).len();
    c.partition(&[2]);
    let cut_at = c.entries()[2];
    wait_for("node 2 to log peer_down for node 0", WAIT, || {
        peer_down_since(&c, 2, logged, 0)
    });
    // Cut off from node 0, node 2 can finish at most the entry whose votes it already had.
    let cut_entries = c.entries()[2] - cut_at;
    assert!(
        cut_entries <= 1,
        "node 2 entered {cut_entries} times while cut off"
    );

    c.heal();
    let after = plus(&c.entries(), 3);
    wait_for_entries(&c, "3 more entries of each node after healing", &after);
    stop_and_check(&mut c);
}

#[test]
fn a_paused_node_makes_no_entry_and_enters_again_when_resumed_or_restarted() {
    if !netns_available() {
        return;
    }
    let mut c = NetnsCluster::start(3, &FAST);
    wait_for_entries(&c, "3 entries of each node", &[3, 3, 3]);

    let logged = c.node_log(0).len();
    c.pause(1);
    let entries = c.entries()[1];
    let lines = c.node_log(1).len();
    // Node 0 (a voter of node 1 and a requester of its vote) gets no keepalive answer from
    // the stopped node and drops the link: by then node 1 has been silent for seconds.
    wait_for("node 0 to log peer_down for node 1", WAIT, || {
        peer_down_since(&c, 0, logged, 1)
    });
    assert_eq!(c.entries()[1], entries, "node 1 entered while stopped");
    assert_eq!(c.node_log(1).len(), lines, "node 1 logged while stopped");

    c.resume(1);
    wait_for("node 1 to enter again", WAIT, || c.entries()[1] > entries);

    // And killed and started again in its namespace, it enters as its next incarnation.
    let entries = c.entries()[1];
    c.restart(1);
    wait_for("node 1 to enter after its restart", WAIT, || {
        c.entries()[1] > entries
    });
    // The node log is written by a background thread: its start line may trail the CS log.
    wait_for("a start of incarnation 2 in node 1's log", WAIT, || {
        c.node_log(1)
            .iter()
            .any(|l| l["event"] == "start" && l["incarnation"] == 2)
    });
    stop_and_check(&mut c);
}

#[test]
fn a_cluster_dropped_by_a_panic_leaves_no_process_and_no_namespace() {
    if !netns_available() {
        return;
    }
    let made = Mutex::new((Vec::new(), Vec::new()));
    let outcome = std::panic::catch_unwind(|| {
        let c = NetnsCluster::start(2, &FAST);
        wait_for_entries(&c, "an entry of each node", &[1, 1]);
        *made.lock().unwrap() = (c.namespaces(), vec![c.pid(0), c.pid(1)]);
        panic!("a test failing with its cluster up");
    });
    assert!(outcome.is_err());
    let (namespaces, pids) = made.into_inner().unwrap();
    assert_eq!(
        namespaces.len(),
        3,
        "a switch and two nodes: {namespaces:?}"
    );
    for ns in &namespaces {
        assert!(
            !Path::new("/var/run/netns").join(ns).exists(),
            "namespace {ns} is left"
        );
    }
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "node process {pid} is left"
        );
    }
}

/// Issue 14, test c: 9 nodes partitioned 6 + 3. The 6 side {0, 1, 2, 3, 6, 8} holds a full
/// row ({0, 1, 2}) and a full column ({0, 3, 6}) of the grid and keeps entering, switching
/// quorums around the 3 it cannot reach and reclaiming their votes; the 3 side {4, 5, 7}
/// holds neither and waits. Nobody is unsafe; after healing everyone enters and
/// `maekawa check` passes.
#[test]
fn nine_nodes_partitioned_six_and_three_the_side_with_a_row_and_a_column_keeps_entering() {
    if !netns_available() {
        return;
    }
    let args = [&FAST[..], &common::QUICK_FAULTS[..]].concat();
    let mut c = NetnsCluster::start(9, &args);
    wait_for_entries(&c, "3 entries of each node", &[3; 9]);
    let small = [4, 5, 7];
    let big: Vec<usize> = (0..9).filter(|i| !small.contains(i)).collect();
    c.partition(&small);
    // Settle: the big side suspects the small one (leases of the small side run out meanwhile).
    wait_for("the big side to suspect the small side", WAIT, || {
        big.iter().all(|&i| {
            let log = c.node_log(i);
            small.iter().all(|&s| {
                log.iter()
                    .any(|l| l["event"] == "suspect" && l["peer"] == s)
            })
        })
    });
    // Any entry of the small side needed every voter's Fenced before the cut: none can begin
    // after it, let alone after the suspicion.
    let settled = c.entries();
    wait_for_entries(
        &c,
        "every node of the big side to enter 5 more times",
        &(0..9)
            .map(|i| settled[i] + if small.contains(&i) { 0 } else { 5 })
            .collect::<Vec<_>>(),
    );
    let during = c.entries();
    for &s in &small {
        assert_eq!(
            during[s], settled[s],
            "node {s} of the small side entered while cut off"
        );
    }
    c.heal();
    wait_for_entries(
        &c,
        "every node to enter 3 more times after healing",
        &plus(&during, 3),
    );
    stop_and_check(&mut c);
}
