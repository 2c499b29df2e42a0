//! Real daemons on loopback: they take turns in the CS, their logs follow the documented
//! schema, and `maekawa check` passes on them.

mod common;

use common::*;
use std::time::Duration;

fn run_until_every_node_entered(n: usize, times: usize, deadline: Duration) {
    let mut cluster = Cluster::start(n, &["--think-ms", "0..20", "--hold-ms", "0..3"]);
    wait_for(
        &format!("every one of {n} nodes to enter the CS {times} times"),
        deadline,
        || cluster.entries(n).iter().all(|&c| c >= times),
    );
    let statuses = cluster.stop_all();
    assert!(
        statuses.iter().all(|s| s.success()),
        "every node exits 0 on SIGTERM: {statuses:?}"
    );
    let check = cluster.check();
    let summary = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success(),
        "maekawa check failed:\n{summary}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(summary.starts_with("check passed"), "{summary}");
    assert_logs_follow_schema(&cluster, n);
    assert_log_order_follows_the_clock(&cluster, n);
}

/// Within each process of a node (from one `start` line to the next), the `send` lines are in
/// the order of the node's Lamport clock (every send ticks it, so strictly increasing) and the
/// timestamps never go back: a report built from the file tells events in the order they
/// happened.
fn assert_log_order_follows_the_clock(cluster: &Cluster, n: usize) {
    for id in 0..n {
        let path = cluster.log_dir.join(format!("node-{id}.log"));
        let mut last_send: Option<(u64, String)> = None;
        let mut last_time = String::new();
        let mut sends = 0;
        for line in read_json_lines(&path) {
            let event = line["event"].as_str().unwrap_or("");
            let time = line["timestamp"].as_str().unwrap().to_string();
            assert!(
                time >= last_time,
                "{}: a line stamped {time} after one stamped {last_time}: {line}",
                path.display()
            );
            last_time = time;
            match event {
                "start" => last_send = None,
                "send" => {
                    sends += 1;
                    let lamport = line["lamport"].as_u64().unwrap();
                    if let Some((before, text)) = &last_send {
                        assert!(
                            lamport > *before,
                            "{}: send with lamport {lamport} logged after one with {before}:\n{text}\n{line}",
                            path.display()
                        );
                    }
                    last_send = Some((lamport, line.to_string()));
                }
                _ => {}
            }
        }
        assert!(sends > 10, "{}: only {sends} send lines", path.display());
    }
}

fn assert_logs_follow_schema(cluster: &Cluster, n: usize) {
    for id in 0..n {
        let path = cluster.log_dir.join(format!("node-{id}.log"));
        let lines = read_json_lines(&path);
        assert!(!lines.is_empty(), "{} is empty", path.display());
        let mut seen = std::collections::BTreeSet::new();
        for line in &lines {
            let obj = line.as_object().expect("each line is a JSON object");
            for key in ["timestamp", "level", "node", "event"] {
                assert!(
                    obj.contains_key(key),
                    "{}: no {key}: {line}",
                    path.display()
                );
            }
            assert_eq!(line["node"], id as u64, "{line}");
            assert!(
                !obj.contains_key("fields"),
                "flat, no nested fields: {line}"
            );
            let event = line["event"].as_str().unwrap();
            seen.insert(event.to_string());
            match event {
                "send" | "recv" => {
                    for key in [
                        "msg", "from", "to", "lamport", "req_ts", "req_node", "req_inc",
                    ] {
                        assert!(obj.contains_key(key), "{event} without {key}: {line}");
                    }
                    let msg = line["msg"].as_str().unwrap();
                    if msg == "Sync" {
                        assert!(line["holds_grant"].is_boolean(), "{line}");
                        assert!(line["to_inc"].is_u64(), "{line}");
                    }
                    assert!(
                        [
                            "Request", "Grant", "Failed", "Inquire", "Yield", "Release", "Sync",
                            "Resync", "Fence", "Fenced", "Revoked"
                        ]
                        .contains(&msg),
                        "{line}"
                    );
                    for key in ["from", "to", "lamport", "req_ts", "req_node", "req_inc"] {
                        assert!(line[key].is_u64(), "{key} is a number: {line}");
                    }
                }
                "enter_cs" => {
                    assert!(line["votes"].is_array(), "votes is an array: {line}");
                    assert!(line["entry"].is_u64(), "{line}");
                }
                _ => {}
            }
        }
        // Correct nodes never send a frame the receiving edge refuses (issue 15).
        assert!(
            !seen.contains("bad_frame"),
            "{}: a correct node's frame was refused",
            path.display()
        );
        for event in [
            "start",
            "request_cs",
            "send",
            "recv",
            "enter_cs",
            "exit_cs",
            "peer_up",
            "stop",
        ] {
            assert!(seen.contains(event), "{}: no {event} line", path.display());
        }
    }
}

#[test]
fn three_daemons_take_turns_and_pass_the_check() {
    run_until_every_node_entered(3, 20, Duration::from_secs(60));
}

#[test]
fn nine_daemons_take_turns_and_pass_the_check() {
    run_until_every_node_entered(9, 20, Duration::from_secs(120));
}
