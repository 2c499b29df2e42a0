//! Issue 16, item 3: bounded logs. A node log rotates by size and keeps a bounded number of
//! old files; `maekawa check` passes across rotated files, also when the oldest were deleted;
//! `--log-messages none` leaves out the message lines.

mod common;

use common::*;
use std::time::Duration;

/// Bytes of every file of node `id`'s log (current and rotated).
fn log_files(c: &Cluster, id: usize) -> Vec<(String, u64)> {
    let mut files: Vec<(String, u64)> = std::fs::read_dir(&c.log_dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name == format!("node-{id}.log") || name.starts_with(&format!("node-{id}.log."))
        })
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    files.sort();
    files
}

fn run_to_the_end(c: &mut Cluster, entries: usize) {
    wait_for(
        "every node to finish its entries",
        Duration::from_secs(60),
        || c.entries(3).iter().all(|&n| n >= entries),
    );
    c.stop_all();
}

#[test]
fn rotation_keeps_at_most_the_configured_bytes_and_check_reads_across_files() {
    const LIMIT: u64 = 16 * 1024;
    const KEEP: usize = 3;
    let mut c = Cluster::start(
        3,
        &[
            "--think-ms",
            "0",
            "--hold-ms",
            "0",
            "--max-entries",
            "150",
            "--log-rotate-bytes",
            &LIMIT.to_string(),
            "--log-keep",
            &KEEP.to_string(),
        ],
    );
    run_to_the_end(&mut c, 150);
    for id in 0..3 {
        let files = log_files(&c, id);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                format!("node-{id}.log"),
                format!("node-{id}.log.1"),
                format!("node-{id}.log.2"),
                format!("node-{id}.log.3")
            ],
            "the current file and {KEEP} rotated ones"
        );
        for (name, bytes) in &files {
            assert!(
                *bytes <= LIMIT,
                "{name}: {bytes} bytes, over the {LIMIT} limit"
            );
        }
    }
    // The oldest files were deleted, so the logs begin mid-run; check still passes.
    assert_check_passed(&c.check());
}

#[test]
fn without_message_lines_an_entry_costs_far_fewer_bytes_and_check_passes() {
    let bytes_per_entry = |mode: &str| {
        let mut c = Cluster::start(
            3,
            &[
                "--think-ms",
                "0",
                "--hold-ms",
                "0",
                "--max-entries",
                "50",
                "--log-messages",
                mode,
            ],
        );
        run_to_the_end(&mut c, 50);
        assert_check_passed(&c.check());
        let log = c.node_log(0);
        let sends = log.iter().filter(|l| l["event"] == "send").count();
        if mode == "none" {
            assert_eq!(sends, 0, "no send lines with --log-messages none");
            assert!(log.iter().any(|l| l["event"] == "enter_cs"));
            assert_eq!(log[0]["log_messages"], "none");
        } else {
            assert!(sends > 0);
        }
        let bytes: u64 = log_files(&c, 0).iter().map(|(_, b)| b).sum();
        let entries = c.entries(3)[0] as u64;
        bytes / entries
    };
    let all = bytes_per_entry("all");
    let none = bytes_per_entry("none");
    println!(
        "bytes of node-0.log per CS entry of node 0 (3 nodes, hold 0): all {all}, none {none}"
    );
    assert!(none * 3 < all, "all {all} B/entry, none {none} B/entry");
}
