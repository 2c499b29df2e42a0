//! Suspicion of silent peers (issue 14, item 2) on real daemons: a paused (SIGSTOP) or killed
//! node is suspected by the others within `--suspect-after`, and no longer once it is heard
//! again (SIGCONT, restart); idle links stay heard thanks to heartbeats, which are not protocol
//! messages and leave no `send`/`recv` lines.

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// The default `--suspect-after`, in ms.
const SUSPECT_AFTER_MS: u64 = 1000;

fn status(c: &Cluster, node: usize) -> Option<String> {
    let out = Command::new(BIN)
        .args(["ctl", "--node", &node.to_string(), "status", "--config"])
        .arg(&c.config)
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Node `id`'s `event` lines about `peer`, from line `from` of its log on.
fn about(c: &Cluster, id: usize, from: usize, event: &str, peer: u64) -> Vec<Value> {
    c.node_log(id)
        .into_iter()
        .skip(from)
        .filter(|l| l["event"] == event && l["peer"] == peer)
        .collect()
}

/// Waits until nodes 0 and 1 both logged `event` about node 2 after their lines `marks`;
/// returns the new marks (the line after each one found).
fn wait_both(c: &Cluster, marks: [usize; 2], event: &str) -> [usize; 2] {
    let found = |id: usize| {
        c.node_log(id)
            .iter()
            .enumerate()
            .skip(marks[id])
            .find(|(_, l)| l["event"] == event && l["peer"] == 2)
            .map(|(i, l)| (i + 1, l.clone()))
    };
    wait_for(
        &format!("nodes 0 and 1 to log {event} of node 2"),
        Duration::from_secs(10),
        || found(0).is_some() && found(1).is_some(),
    );
    [0, 1].map(|id| {
        let (next, line) = found(id).unwrap();
        let silent = line["silent_ms"].as_u64().expect("silent_ms");
        if event == "suspect" {
            assert!(silent >= SUSPECT_AFTER_MS, "node {id}: {line}");
        }
        next
    })
}

#[test]
fn a_paused_or_killed_node_is_suspected_and_heard_again() {
    let mut c = Cluster::prepare(3);
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for(
        "every node to hear every other",
        Duration::from_secs(20),
        || {
            (0..3)
                .all(|id| status(&c, id).is_some_and(|s| s.contains("\n  suspected       none\n")))
        },
    );
    let start = [c.node_log(0).len(), c.node_log(1).len()];

    let pid = c.children[2].as_ref().unwrap().id();
    signal(pid, "STOP");
    let marks = wait_both(&c, start, "suspect");
    let s = status(&c, 0).unwrap();
    assert!(s.contains("\n  suspected       2\n"), "{s}");
    signal(pid, "CONT");
    let marks = wait_both(&c, marks, "unsuspect");
    wait_for("node 0 to suspect nobody", Duration::from_secs(10), || {
        status(&c, 0).is_some_and(|s| s.contains("\n  suspected       none\n"))
    });

    c.kill9(2);
    let marks = wait_both(&c, marks, "suspect");
    c.start_node(2, &["--workload", "manual"]);
    let _ = wait_both(&c, marks, "unsuspect");

    // Nodes 0 and 1 talked about nothing (manual workload, no request) for seconds, and heard
    // each other all along: heartbeats keep idle links heard.
    for (id, peer) in [(0, 1), (1, 0)] {
        let wrong = about(&c, id, start[id], "suspect", peer);
        assert!(
            wrong.is_empty(),
            "node {id} suspected live node {peer}: {wrong:?}"
        );
    }
    // Heartbeats are not protocol messages: no request was made and no vote was held, so
    // nothing of the protocol went over the links, and no node logged a message.
    for id in 0..3 {
        let messages: Vec<Value> = c
            .node_log(id)
            .into_iter()
            .filter(|l| l["event"] == "send" || l["event"] == "recv")
            .collect();
        assert!(messages.is_empty(), "node {id}: {messages:?}");
    }
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}
