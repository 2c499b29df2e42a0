//! `check`, `report` and `timeline` on the logs of a real run where clients used named locks
//! while the emulated CS ran (issue 13): the tools see the emulated CS exactly as in the same
//! logs with every line of another lock removed, and `check` passes the named locks' entries
//! and fencing tokens (and, on the same logs, fails a swapped token and an overlap).

mod common;

use common::*;
use maekawa::config::Config;
use maekawa::logs::check::check;
use maekawa::logs::report::{entry_report, summary_report, EntrySelector, Format};
use maekawa::logs::timeline::render_timeline;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// `maekawa lock NAME --node NODE -- true`, `times` times in a row.
fn lock_loop(cluster: &Cluster, node: usize, name: &'static str, times: usize) -> Vec<Command> {
    (0..times)
        .map(|_| {
            let mut cmd = Command::new(BIN);
            cmd.args(["lock", name, "--node", &node.to_string(), "--config"])
                .arg(&cluster.config)
                .args(["--timeout", "20s", "--", "true"]);
            cmd
        })
        .collect()
}

/// Copies `from` to `to`, leaving out of the node logs every line whose `lock` is present and
/// not "cs".
fn copy_without_named_locks(from: &Path, to: &Path) -> usize {
    std::fs::create_dir_all(to).unwrap();
    let mut dropped = 0;
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        if !name.ends_with(".log") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let kept: String = if name.starts_with("node-") {
            text.lines()
                .filter(|l| {
                    let v: Value = serde_json::from_str(l).unwrap();
                    let keep = v.get("lock").is_none_or(|l| l == "cs");
                    dropped += usize::from(!keep);
                    keep
                })
                .map(|l| format!("{l}\n"))
                .collect()
        } else {
            text
        };
        std::fs::write(to.join(&name), kept).unwrap();
    }
    dropped
}

#[test]
fn named_lock_traffic_leaves_the_cs_tools_unchanged_and_checks() {
    let n = 3;
    let mut cluster = Cluster::start(n, &["--think-ms", "0..10", "--hold-ms", "0..2"]);
    cluster.wait_for_lock_services(n);
    let loops: Vec<_> = (0..n)
        .flat_map(|node| {
            [
                lock_loop(&cluster, node, "counter", 5),
                lock_loop(&cluster, node, "other", 2),
            ]
        })
        .map(|mut cmds| {
            std::thread::spawn(move || {
                for cmd in &mut cmds {
                    let out = cmd.output().unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            })
        })
        .collect();
    for l in loops {
        l.join().unwrap();
    }
    wait_for("every node to enter the CS 5 times", WAIT, || {
        cluster.entries(n).iter().all(|&c| c >= 5)
    });
    let statuses = cluster.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");

    let named_entries = (0..n)
        .flat_map(|id| cluster.node_log(id))
        .filter(|l| l["event"] == "enter_cs" && l.get("lock").is_some_and(|l| l != "cs"))
        .count();
    assert_eq!(named_entries, n * 7, "every `maekawa lock` entered once");

    let stripped = cluster.dir.path().join("stripped");
    let dropped = copy_without_named_locks(&cluster.log_dir, &stripped);
    assert!(dropped > named_entries, "{dropped} lines of named locks");

    // check: the same emulated CS, and it passes.
    let config = Config::load(&cluster.config).unwrap();
    let with = check(&cluster.log_dir, &config).unwrap();
    let without = check(&stripped, &config).unwrap();
    assert!(with.passed(), "{with}");
    assert_eq!(
        (
            with.nodes,
            with.entries,
            &with.entries_per_node,
            with.starts,
            &with.node_logs,
            &with.violations
        ),
        (
            without.nodes,
            without.entries,
            &without.entries_per_node,
            without.starts,
            &without.node_logs,
            &without.violations
        )
    );
    // ... and the named locks' entries and tokens are checked.
    let counts: Vec<(&str, u64)> = with
        .named_locks
        .iter()
        .map(|(lock, s)| (lock.as_str(), s.entries))
        .collect();
    assert_eq!(counts, [("counter", 3 * 5), ("other", 3 * 2)], "{with}");
    assert_eq!(with.cs_tokens, with.entries, "every cs entry has a token");
    assert!(without.named_locks.is_empty());
    let out = cluster.check();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("\n  named locks: 21 entries of 2 named locks checked, no overlap, tokens increasing: counter (15 entries, tokens "),
        "{stdout}"
    );
    assert!(stdout.contains("\n  fencing tokens of cs: "), "{stdout}");

    // Swapping the tokens of the first two entries of counter fails, naming both lines.
    let swapped = cluster.dir.path().join("swapped");
    copy_without_named_locks(&cluster.log_dir, &swapped);
    let mut enters: Vec<(String, usize, u64, u64)> = Vec::new(); // (time, node, line, token)
    for id in 0..n {
        for (i, l) in cluster.node_log(id).iter().enumerate() {
            if l["event"] == "enter_cs" && l["lock"] == "counter" {
                enters.push((
                    l["timestamp"].as_str().unwrap().to_string(),
                    id,
                    (i + 1) as u64,
                    l["token"].as_u64().unwrap(),
                ));
            }
        }
    }
    enters.sort();
    let (a, b) = (&enters[0], &enters[1]);
    for id in 0..n {
        let text = std::fs::read_to_string(cluster.log_dir.join(format!("node-{id}.log"))).unwrap();
        let swapped_text: String = text
            .lines()
            .enumerate()
            .map(|(i, l)| {
                let at = (id, (i + 1) as u64);
                let token = if at == (a.1, a.2) {
                    Some((a.3, b.3))
                } else if at == (b.1, b.2) {
                    Some((b.3, a.3))
                } else {
                    None
                };
                let l = match token {
                    Some((from, to)) => {
                        l.replace(&format!("\"token\":{from}"), &format!("\"token\":{to}"))
                    }
                    None => l.to_string(),
                };
                l + "\n"
            })
            .collect();
        std::fs::write(swapped.join(format!("node-{id}.log")), swapped_text).unwrap();
    }
    let report = check(&swapped, &config).unwrap();
    assert!(
        report.violations.iter().any(|v| *v == format!(
            "node-{}.log:{}: lock \"counter\" token {} is not larger than token {} of the earlier entry at node-{}.log:{}; fencing tokens must increase",
            b.1, b.2, a.3, b.3, a.1, a.2
        )),
        "{report}"
    );

    // report: the same summary and the same story of an entry.
    let same_dir = |text: String, dir: &Path| text.replace(dir.to_str().unwrap(), "LOGS");
    for format in [Format::Text, Format::Markdown] {
        assert_eq!(
            same_dir(
                summary_report(&cluster.log_dir, format).unwrap(),
                &cluster.log_dir
            ),
            same_dir(summary_report(&stripped, format).unwrap(), &stripped),
            "summary, {format:?}"
        );
    }
    for node in 0..n as u32 {
        let sel = EntrySelector {
            node,
            entry: 3,
            incarnation: None,
        };
        for format in [Format::Text, Format::Mermaid] {
            assert_eq!(
                same_dir(
                    entry_report(&cluster.log_dir, &sel, format).unwrap(),
                    &cluster.log_dir
                ),
                same_dir(entry_report(&stripped, &sel, format).unwrap(), &stripped),
                "story of node {node} entry 3, {format:?}"
            );
        }
    }

    // timeline: the same picture.
    let svg_with = cluster.dir.path().join("with.svg");
    let svg_without = cluster.dir.path().join("without.svg");
    assert_eq!(
        render_timeline(&cluster.log_dir, &svg_with).unwrap(),
        render_timeline(&stripped, &svg_without).unwrap()
    );
    assert_eq!(
        same_dir(
            std::fs::read_to_string(&svg_with).unwrap(),
            &cluster.log_dir
        ),
        same_dir(std::fs::read_to_string(&svg_without).unwrap(), &stripped)
    );
}
