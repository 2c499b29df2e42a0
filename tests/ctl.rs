//! Three `--workload manual` daemons driven only through `maekawa ctl`: two ask for the CS,
//! `status` shows who waits for whom, releases let the other in, and `maekawa check` passes.

mod common;

use common::*;
use std::process::Command;
use std::time::Duration;

fn ctl(cluster: &Cluster, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("ctl")
        .arg("--config")
        .arg(&cluster.config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn status(cluster: &Cluster, node: &str) -> String {
    let (code, out, err) = ctl(cluster, &["--node", node, "status"]);
    assert_eq!(code, 0, "{err}");
    out
}

#[test]
fn manual_nodes_driven_by_ctl() {
    let mut c = Cluster::prepare(3);
    for id in 0..3 {
        c.start_node(id, &["--workload", "manual"]);
    }
    wait_for("all nodes to answer ctl", Duration::from_secs(20), || {
        (0..3).all(|id| ctl(&c, &["--node", &id.to_string(), "status"]).0 == 0)
    });
    assert!(status(&c, "1").contains("idle"));

    let (code, out, err) = ctl(&c, &["--node", "1", "request"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node 1 requested the CS"), "{out}");
    wait_for("node 1 to be in the CS", Duration::from_secs(20), || {
        status(&c, "1").contains("in the CS")
    });

    let (code, _, err) = ctl(&c, &["--node", "2", "request"]);
    assert_eq!(code, 0, "{err}");
    // Node 2 (quorum {0, 2}) waits for voter 0, whose vote node 1 holds.
    wait_for(
        "node 2 to wait for voter 0",
        Duration::from_secs(20),
        || {
            let s = status(&c, "2");
            s.contains("waiting for votes") && s.contains("votes missing   0\n")
        },
    );
    let voter = status(&c, "0");
    assert!(voter.contains("its vote is for node 1"), "{voter}");
    assert!(
        voter.contains(", 2)"),
        "node 2's request is in voter 0's queue: {voter}"
    );
    let (code, table, err) = ctl(&c, &["status", "--all"]);
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
    let (code, _, err) = ctl(&c, &["--node", "2", "release"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("node 2 is not in the CS"), "{err}");
    assert!(err.contains("waits for votes from [0]"), "{err}");
    assert_eq!(err.lines().count(), 1);

    let (code, _, err) = ctl(&c, &["--node", "1", "release"]);
    assert_eq!(code, 0, "{err}");
    wait_for("node 2 to enter", Duration::from_secs(20), || {
        status(&c, "2").contains("in the CS")
    });
    assert_eq!(ctl(&c, &["--node", "2", "release"]).0, 0);
    wait_for("node 2 to leave", Duration::from_secs(20), || {
        status(&c, "2").contains("idle")
    });

    // Errors: an unknown id, and a node that is not running.
    let (code, _, err) = ctl(&c, &["--node", "7", "status"]);
    assert_eq!(code, 2);
    assert!(err.contains("id 7 is not in the file"), "{err}");
    c.kill9(0);
    let (code, _, err) = ctl(&c, &["--node", "0", "request"]);
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
