//! `maekawa watch`'s server on real daemons (issue 29): live, it follows every daemon (a killed
//! one is reported down, and up again with its new process's `start`); replaying a run, it
//! serves every line of the run with the kill marked, every entry, and each entry's story as
//! `maekawa report --format json` tells it. The page itself is tested in a browser
//! (tests/browser).

mod common;

use common::{free_ports, signal, wait_for, Cluster, KillOnDrop, BIN};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts `maekawa watch ARGS --addr 127.0.0.1:<free port>`; returns it (killed when dropped)
/// and its address.
fn start_watch(args: &[&std::ffi::OsStr]) -> (KillOnDrop, String) {
    let addr = format!("127.0.0.1:{}", free_ports(1)[0]);
    let mut child = Command::new(BIN)
        .arg("watch")
        .args(args)
        .args(["--addr", &addr])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let child = KillOnDrop(child);
    assert!(first.contains(&format!("open http://{addr}/")), "{first}");
    (child, addr)
}

/// A GET of `path`: the status code and the body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

fn get_json(addr: &str, path: &str) -> Value {
    let (code, body) = get(addr, path);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// The `data:` lines of the live feed, as JSON, sent on the returned channel as they come.
fn follow_events(addr: &str) -> mpsc::Receiver<Value> {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET /api/events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(s).lines().map_while(Result::ok) {
            if let Some(data) = line.strip_prefix("data: ") {
                if tx.send(serde_json::from_str(data).unwrap()).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// Waits for a line of the feed that `want` accepts.
fn wait_line(rx: &mpsc::Receiver<Value>, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(v) if want(&v) => return v,
            Ok(_) => {}
            Err(_) => panic!("no {what} in the live feed within 15 s"),
        }
    }
}

#[test]
fn live_it_follows_every_daemon_and_shows_a_killed_one_down_and_back() {
    let mut cluster = Cluster::start(3, &[]);
    let (mut watch, addr) = start_watch(&["--config".as_ref(), cluster.config.as_os_str()]);
    let config = get_json(&addr, "/api/config");
    assert_eq!(config["mode"], "live");
    assert_eq!(config["nodes"].as_array().unwrap().len(), 3);
    let feed = follow_events(&addr);
    wait_line(&feed, "watch_hello", |v| v["event"] == "watch_hello");
    // Node 1's own entry: its follower is connected (a node still starting, or not followed
    // yet, would have no new watch_down to give when it is killed).
    wait_line(&feed, "an enter_cs of node 1", |v| {
        v["event"] == "enter_cs" && v["node"] == 1
    });
    cluster.kill9(1);
    let killed = Instant::now();
    wait_line(&feed, "node 1 down", |v| {
        v["event"] == "watch_down" && v["node"] == 1
    });
    println!(
        "node 1 shown down {} ms after kill -9",
        killed.elapsed().as_millis()
    );
    cluster.children[1] = Some(cluster.spawn(1));
    wait_line(&feed, "node 1 up", |v| {
        v["event"] == "watch_up" && v["node"] == 1
    });
    wait_line(&feed, "node 1's start", |v| {
        v["event"] == "start" && v["node"] == 1
    });
    wait_line(&feed, "node 1 entering again", |v| {
        v["event"] == "enter_cs" && v["node"] == 1
    });
    let entries = get_json(&addr, "/api/entries");
    assert!(!entries.as_array().unwrap().is_empty());
    signal(watch.0.id(), "TERM");
    assert!(common::wait_exit(&mut watch.0, Duration::from_secs(5)).success());
}

#[test]
fn replay_serves_every_line_the_kill_every_entry_and_the_reports_stories() {
    let mut cluster = Cluster::start(3, &[]);
    wait_for("entries", Duration::from_secs(20), || {
        cluster.entries(3).iter().sum::<usize>() >= 10
    });
    cluster.kill9(2);
    std::thread::sleep(Duration::from_millis(300)); // node 2 stays dead a while
    cluster.children[2] = Some(cluster.spawn(2));
    wait_for("node 2 entering again", Duration::from_secs(20), || {
        cluster
            .node_log(2)
            .iter()
            .filter(|l| l["event"] == "start")
            .count()
            == 2
            && cluster
                .node_log(2)
                .last()
                .is_some_and(|l| l["event"] != "start")
    });
    cluster.stop_all();
    let logs: Vec<Vec<Value>> = (0..3).map(|i| cluster.node_log(i)).collect();
    let (mut watch, addr) = start_watch(&[
        "--log-dir".as_ref(),
        cluster.log_dir.as_os_str(),
        "--config".as_ref(),
        cluster.config.as_os_str(),
    ]);
    assert_eq!(get_json(&addr, "/api/config")["mode"], "replay");
    let lines = get_json(&addr, "/api/log");
    let lines = lines.as_array().unwrap();
    let downs: Vec<&Value> = lines
        .iter()
        .filter(|l| l["event"] == "watch_down")
        .collect();
    assert_eq!(downs.len(), 1, "one kill: {downs:?}");
    assert_eq!(downs[0]["node"], 2);
    assert_eq!(lines.len(), logs.iter().map(Vec::len).sum::<usize>() + 1);
    assert!(
        lines
            .windows(2)
            .all(|w| w[0]["timestamp"].as_str() <= w[1]["timestamp"].as_str()),
        "merged by time"
    );
    let entered: usize = logs
        .iter()
        .map(|l| l.iter().filter(|l| l["event"] == "enter_cs").count())
        .sum();
    let entries = get_json(&addr, "/api/entries");
    assert_eq!(entries.as_array().unwrap().len(), entered);
    for (node, entry) in [(0, 1), (1, 2), (2, 1)] {
        let served = get_json(&addr, &format!("/api/story?node={node}&entry={entry}"));
        let report = Command::new(BIN)
            .arg("report")
            .arg("--log-dir")
            .arg(&cluster.log_dir)
            .args(["--node", &node.to_string(), "--entry", &entry.to_string()])
            .args(["--format", "json"])
            .output()
            .unwrap();
        let told: Value = serde_json::from_slice(&report.stdout).unwrap();
        assert_eq!(served, told, "node {node} entry {entry}");
        assert!(served["steps"].as_array().unwrap().len() >= 2);
    }
    assert_eq!(get(&addr, "/api/story?node=9&entry=1").0, 404);
    let (code, page) = get(&addr, "/");
    assert_eq!(code, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
    signal(watch.0.id(), "TERM");
    assert!(common::wait_exit(&mut watch.0, Duration::from_secs(5)).success());
}
