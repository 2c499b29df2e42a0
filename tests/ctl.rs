//! Three `--workload manual` daemons driven only through `maekawa ctl`: two ask for the CS,
//! `status` shows who waits for whom, releases let the other in, a waiting request is
//! withdrawn with `cancel`, and `maekawa check` passes.

mod common;

use common::*;
use std::time::Duration;

#[test]
fn manual_nodes_driven_by_ctl() {
    let mut c = Cluster::prepare(3);
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for("all nodes to answer ctl", Duration::from_secs(20), || {
        (0..3).all(|id| c.ctl(&["--node", &id.to_string(), "status"]).0 == 0)
    });
    assert!(c.status("1").contains("idle"));

    let (code, out, err) = c.ctl(&["--node", "1", "request"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node 1 requested the CS"), "{out}");
    wait_for("node 1 to be in the CS", Duration::from_secs(20), || {
        c.status("1").contains("in the CS")
    });

    let (code, _, err) = c.ctl(&["--node", "2", "request"]);
    assert_eq!(code, 0, "{err}");
    // Node 2 (quorum {0, 2}) waits for voter 0, whose vote node 1 holds.
    wait_for(
        "node 2 to wait for voter 0",
        Duration::from_secs(20),
        || {
            let s = c.status("2");
            s.contains("waiting for votes") && s.contains("votes missing   0\n")
        },
    );
    let voter = c.status("0");
    assert!(voter.contains("its vote is for node 1"), "{voter}");
    assert!(
        voter.contains(", 2)"),
        "node 2's request is in voter 0's queue: {voter}"
    );
    let (code, table, err) = c.ctl(&["status", "--all"]);
    assert_eq!(code, 0, "every node answered: {err}");
    assert_eq!(
        table.lines().count(),
        4,
        "header and one row per node:\n{table}"
    );
    assert!(
        table.contains("IN CS") && table.contains("waiting"),
        "{table}"
    );

    // Releasing a node that is not in the CS is refused, with the reason.
    let (code, _, err) = c.ctl(&["--node", "2", "release"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("node 2 is not in the CS"), "{err}");
    assert!(err.contains("waits for votes from [0]"), "{err}");
    assert!(err.contains("`maekawa ctl --node 2 cancel`"), "{err}");
    assert_eq!(err.lines().count(), 1);

    let (code, _, err) = c.ctl(&["--node", "1", "release"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 2 to enter", Duration::from_secs(20), || {
        c.status("2").contains("in the CS")
    });
    assert_eq!(c.ctl(&["--node", "2", "release"]).0, 0);
    wait_for("node 2 to leave", Duration::from_secs(20), || {
        c.status("2").contains("idle")
    });

    // Errors: an unknown id, and a node that is not running.
    let (code, _, err) = c.ctl(&["--node", "7", "status"]);
    assert_eq!(code, 2);
    assert!(err.contains("id 7 is not in the file"), "{err}");
    c.kill9(0);
    let (code, _, err) = c.ctl(&["--node", "0", "request"]);
    assert_eq!(code, 2);
    assert!(err.contains("node 0 is not running"), "{err}");
    assert_eq!(err.lines().count(), 1);

    c.stop_all();
    let out = c.check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let cs = c.cs_lines();
    let enters: Vec<u64> = cs
        .iter()
        .filter(|l| l["event"] == "enter")
        .map(|l| l["node"].as_u64().unwrap())
        .collect();
    assert_eq!(
        enters,
        vec![1, 2],
        "exactly the two requested entries, in order"
    );
}

/// Starts three manual nodes and waits until each answers `ctl`.
fn manual_cluster() -> Cluster {
    let mut c = Cluster::prepare(3);
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for("all nodes to answer ctl", Duration::from_secs(20), || {
        (0..3).all(|id| c.ctl(&["--node", &id.to_string(), "status"]).0 == 0)
    });
    c
}

/// `ctl cancel` withdraws a waiting request: the votes it held go to the next request, and it
/// never enters. Without the withdrawal node 0's older request would be served first and, in
/// the manual workload, keep the CS for ever, so node 2 could not enter.
#[test]
fn cancel_withdraws_a_waiting_request_and_its_votes_go_on() {
    let mut c = manual_cluster();
    // Grid quorums of 3 nodes: Q(0) = {0, 1, 2}, Q(1) = {0, 1}, Q(2) = {0, 2}.
    let (code, _, err) = c.ctl(&["--node", "1", "request"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 1 to be in the CS", Duration::from_secs(20), || {
        c.status("1").contains("in the CS")
    });
    let (code, _, err) = c.ctl(&["--node", "0", "request"]);
    assert_eq!(code, 0, "{err}");
    wait_for(
        "node 0 to wait, holding voter 2's vote",
        Duration::from_secs(20),
        || {
            let s = c.status("0");
            s.contains("waiting for votes") && s.contains("votes held      2\n")
        },
    );
    assert!(c.status("2").contains("its vote is for node 0"));

    let (code, out, err) = c.ctl(&["--node", "0", "cancel"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node 0 withdrew its request"), "{out}");
    assert!(c.status("0").contains(": idle\n"));
    wait_for(
        "voter 2 to get its vote back",
        Duration::from_secs(20),
        || c.status("2").contains("its vote is for nobody"),
    );
    wait_for(
        "node 0's request to leave voter 0's queue",
        Duration::from_secs(20),
        || c.status("0").contains("its queue       -\n"),
    );

    let (code, _, err) = c.ctl(&["--node", "1", "release"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = c.ctl(&["--node", "2", "request"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 2 to enter", Duration::from_secs(20), || {
        c.status("2").contains("in the CS")
    });

    // Nothing waits: idle, or in the CS. Each is refused with one line saying why.
    let (code, _, err) = c.ctl(&["--node", "0", "cancel"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("node 0 has no request waiting for votes (it is idle): nothing to cancel"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = c.ctl(&["--node", "2", "cancel"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it is in the CS with request"), "{err}");
    assert!(err.contains("`maekawa ctl --node 2 release`"), "{err}");
    assert_eq!(c.ctl(&["--node", "2", "release"]).0, 0);

    c.stop_all();
    let enters: Vec<u64> = c
        .cs_lines()
        .iter()
        .filter(|l| l["event"] == "enter")
        .map(|l| l["node"].as_u64().unwrap())
        .collect();
    assert_eq!(enters, vec![1, 2], "node 0 never entered");
    let log = c.node_log(0);
    let requested: Vec<_> = log.iter().filter(|l| l["event"] == "request_cs").collect();
    let cancelled: Vec<_> = log.iter().filter(|l| l["event"] == "cancel_cs").collect();
    assert_eq!(requested.len(), 1, "{requested:?}");
    assert_eq!(cancelled.len(), 1, "{cancelled:?}");
    for key in ["req_ts", "req_node"] {
        assert_eq!(cancelled[0][key], requested[0][key], "{key}");
    }
    assert_eq!(cancelled[0]["lock"], "cs");
    assert!(!log.iter().any(|l| l["event"] == "enter_cs"));
    let out = c.check();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Issue 16, item 5: `ctl status --json` for scripts, one node and `--all`.
#[test]
fn status_json_for_scripts() {
    let mut c = Cluster::prepare(3);
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for("all nodes to answer ctl", Duration::from_secs(20), || {
        (0..3).all(|id| c.ctl(&["--node", &id.to_string(), "status"]).0 == 0)
    });
    assert_eq!(c.ctl(&["--node", "1", "request"]).0, 0);
    let json = |args: &[&str]| -> serde_json::Value {
        let (code, out, err) = c.ctl(args);
        assert_eq!(code, 0, "{err}");
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    };
    wait_for("node 1 in the CS", Duration::from_secs(20), || {
        json(&["--node", "1", "status", "--json"])["phase"] == "in_cs"
    });
    let one = json(&["--node", "1", "status", "--json"]);
    assert_eq!(one["node"], 1, "{one}");
    assert_eq!(one["request"]["node"], 1, "{one}");
    assert_eq!(one["workload"], "manual", "{one}");
    assert_eq!(one["entries"], 1, "{one}");
    assert!(one["missing"].as_array().unwrap().is_empty(), "{one}");
    let all = json(&["status", "--all", "--json"]);
    let nodes = all.as_array().expect("an array");
    assert_eq!(nodes.len(), 3, "{all}");
    // Voter 0's vote is node 1's request, as its own status says.
    assert_eq!(nodes[0]["vote"], one["request"], "{all}");
    assert_eq!(c.ctl(&["--node", "1", "release"]).0, 0);
    c.kill9(2);
    let (code, out, _) = c.ctl(&["status", "--all", "--json"]);
    assert_eq!(code, 1, "some nodes did not answer");
    let all: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(all[2]["node"], 2, "{all}");
    assert!(all[2]["error"].is_string(), "{all}");
}

/// Issue 16, item 2: the grpc.health.v1 service (`ctl health`) serves while a quorum without
/// suspected nodes exists, and flips back when one returns.
#[test]
fn health_follows_the_reachable_quorums() {
    let mut c = Cluster::prepare(3);
    let flags = ["--workload", "manual", "--suspect-after", "300"];
    for id in 0..3 {
        c.start_node(id, &flags);
    }
    let health = |c: &Cluster| c.ctl(&["--node", "0", "health"]);
    wait_for("node 0 to serve", Duration::from_secs(20), || {
        health(&c).0 == 0
    });
    assert!(health(&c).1.contains("node 0: SERVING"));
    let (code, out, _) = c.ctl(&["health", "--all"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.lines().count(), 3, "{out}");
    // The grid of 3 survives one dead node: node 2 dead leaves row {0, 1} + column {1}.
    c.kill9(2);
    wait_for("node 0 to suspect node 2", Duration::from_secs(20), || {
        c.status("0").contains("suspected       2")
    });
    assert_eq!(health(&c).0, 0, "one dead node of 3 leaves a quorum");
    // Two dead leave none.
    c.kill9(1);
    wait_for("node 0 to stop serving", Duration::from_secs(20), || {
        let (code, out, _) = health(&c);
        code == 1 && out.contains("NOT_SERVING")
    });
    let (code, out, _) = c.ctl(&["health", "--all"]);
    assert_eq!(code, 2, "nodes 1 and 2 do not answer: {out}");
    c.start_node(1, &flags);
    wait_for("node 0 to serve again", Duration::from_secs(20), || {
        health(&c).0 == 0
    });
    let lines: Vec<_> = c
        .node_log(0)
        .into_iter()
        .filter(|l| l["event"] == "health")
        .map(|l| l["serving"].as_bool().unwrap())
        .collect();
    assert_eq!(lines, [false, true], "health lines of node 0");
}
