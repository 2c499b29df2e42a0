//! Every command ends quietly when the reader of its output has left (`maekawa report | head
//! -1`): the same exit code as with a reader, and no panic ("failed printing to stdout: Broken
//! pipe", exit 101).
//!
//! The reader is gone before the command starts: its stdout (or stderr) is the write end of a
//! pipe whose read end was closed before the spawn, so its first write fails with EPIPE, every
//! time. The commands need no running daemon: a hand-written run of two nodes serves `check`,
//! `report` and `timeline`, and `ctl status --all` asks nodes that are not running.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_maekawa");
const T: &str = "2025-01-01T00:00:00.0000";

/// A node-log line at `T` + `us` microseconds.
fn line(us: u32, node: u32, event: &str, rest: &str) -> String {
    format!(
        "{{\"timestamp\":\"{T}{us:02}Z\",\"level\":\"INFO\",\"node\":{node},\"event\":\"{event}\"{rest}}}\n"
    )
}

/// The keys of a message of request (1, 1).
fn msg(msg: &str, from: u32, to: u32, lamport: u32) -> String {
    format!(
        ",\"msg\":\"{msg}\",\"from\":{from},\"to\":{to},\"lamport\":{lamport},\"req_ts\":1,\"req_node\":1,\"req_inc\":1"
    )
}

/// A cluster file for nodes 0 and 1 (ports 1 and 2: nothing listens there) and the logs of a
/// run in which node 1 entered the CS once.
fn run_dir(dir: &Path) -> (PathBuf, PathBuf) {
    let config = dir.join("quorums.json");
    std::fs::write(
        &config,
        r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "127.0.0.1:2"}]}"#,
    )
    .unwrap();
    let logs = dir.join("logs");
    std::fs::create_dir(&logs).unwrap();
    let cs = [
        format!("{{\"event\":\"start\",\"node\":0,\"incarnation\":1,\"time\":\"{T}01Z\"}}\n"),
        format!("{{\"event\":\"start\",\"node\":1,\"incarnation\":1,\"time\":\"{T}02Z\"}}\n"),
        format!("{{\"event\":\"enter\",\"node\":1,\"entry\":1,\"request\":{{\"ts\":1,\"node\":1}},\"votes\":[0,1],\"time\":\"{T}50Z\"}}\n"),
        format!("{{\"event\":\"exit\",\"node\":1,\"entry\":1,\"time\":\"{T}60Z\"}}\n"),
    ];
    std::fs::write(logs.join("critical_section.log"), cs.concat()).unwrap();
    let start = |n: u32| {
        format!(",\"incarnation\":1,\"addr\":\"127.0.0.1:{}\",\"quorum\":[0,1],\"pid\":1,\"workload\":\"Auto\",\"journaled_lock\":\"none\"", n + 1)
    };
    let req = ",\"req_ts\":1,\"req_node\":1";
    let node0 = [
        line(1, 0, "start", &start(0)),
        line(20, 0, "recv", &msg("Request", 1, 0, 2)),
        line(21, 0, "send", &msg("Grant", 0, 1, 4)),
        line(62, 0, "recv", &msg("Release", 1, 0, 6)),
    ];
    let node1 = [
        line(2, 1, "start", &start(1)),
        line(10, 1, "request_cs", req),
        line(11, 1, "send", &msg("Request", 1, 0, 2)),
        line(12, 1, "send", &msg("Request", 1, 1, 3)),
        line(13, 1, "recv", &msg("Request", 1, 1, 3)),
        line(14, 1, "send", &msg("Grant", 1, 1, 5)),
        line(15, 1, "recv", &msg("Grant", 1, 1, 5)),
        line(40, 1, "recv", &msg("Grant", 0, 1, 4)),
        line(
            50,
            1,
            "enter_cs",
            &format!(",\"entry\":1{req},\"votes\":[0,1],\"wait_ms\":0.04"),
        ),
        line(60, 1, "exit_cs", &format!(",\"entry\":1{req}")),
        line(61, 1, "send", &msg("Release", 1, 0, 6)),
        line(62, 1, "send", &msg("Release", 1, 1, 7)),
        line(63, 1, "recv", &msg("Release", 1, 1, 7)),
    ];
    std::fs::write(logs.join("node-0.log"), node0.concat()).unwrap();
    std::fs::write(logs.join("node-1.log"), node1.concat()).unwrap();
    (config, logs)
}

/// Every command that prints to stdout and needs no daemon, in `dir`.
fn commands(dir: &Path) -> Vec<Vec<String>> {
    let (config, logs) = run_dir(dir);
    let (config, logs) = (config.to_str().unwrap(), logs.to_str().unwrap());
    let svg = dir.join("t.svg");
    let entry = ["--node", "1", "--entry", "1"];
    let lines: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["--version"],
        vec!["report", "--help"],
        vec!["quorums", "--config", config],
        vec!["quorums", "--ids", "--config", config],
        vec!["check", "--log-dir", logs, "--config", config],
        vec!["report", "--log-dir", logs],
        vec!["report", "--log-dir", logs, "--format", "markdown"],
        [&["report", "--log-dir", logs][..], &entry].concat(),
        [
            &["report", "--log-dir", logs, "--format", "mermaid"][..],
            &entry,
        ]
        .concat(),
        vec!["timeline", "--log-dir", logs, "-o", svg.to_str().unwrap()],
        vec![
            "simulate",
            "--nodes",
            "3",
            "--requests",
            "2",
            "--schedules",
            "2",
        ],
        vec!["explore", "--nodes", "2", "--requests", "1"],
        vec!["ctl", "status", "--all", "--config", config],
    ];
    lines
        .into_iter()
        .map(|l| l.into_iter().map(str::to_owned).collect())
        .collect()
}

/// The write end of a pipe that has no reader any more.
fn closed_pipe() -> Stdio {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    writer.into()
}

/// Runs `args` with a reader: (exit code, stdout, stderr).
fn with_reader(args: &[String]) -> (Option<i32>, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for args in commands(dir.path()) {
        let (code, out, _) = with_reader(&args);
        assert!(
            !out.is_empty(),
            "{args:?} prints nothing: the test would prove nothing"
        );
        let closed = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&closed.stderr);
        if closed.status.code() != code || err.contains("panicked") || err.contains("Broken pipe") {
            let why = err
                .lines()
                .find(|l| !l.trim().is_empty() && !l.starts_with("thread "))
                .unwrap_or("");
            let dir = dir.path().to_str().unwrap();
            failures.push(format!(
                "{}: exit {:?} (with a reader: {code:?}); {why}",
                args.join(" ").replace(dir, "DIR"),
                closed.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Output that cannot be written for another reason than the reader leaving (here a full
/// disk, /dev/full) is not silently lost: one error line and exit code 2.
#[test]
fn a_full_disk_is_one_error_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (config, _) = run_dir(dir.path());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = Command::new(BIN)
        .arg("quorums")
        .arg("--config")
        .arg(&config)
        .stdout(full)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        err,
        "error: cannot write the output to stdout: No space left on device (os error 28)\n"
    );
}

/// Commands whose answer is an error line on stderr, with stderr (and stdout) closed, as in
/// `maekawa ... 2>&1 | head -0`: still their exit code, not a panic's 101.
#[test]
fn a_closed_stderr_ends_an_error_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (config, logs) = run_dir(dir.path());
    let (config, logs) = (config.to_str().unwrap(), logs.to_str().unwrap());
    let missing = dir.path().join("absent.json");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    for args in [
        vec!["ctl", "--node", "0", "status", "--config", config],
        vec!["quorums", "--config", missing.to_str().unwrap()],
        vec![
            "check",
            "--log-dir",
            empty.to_str().unwrap(),
            "--config",
            config,
        ],
        vec!["report", "--log-dir", logs, "--node", "1", "--entry", "9"],
    ] {
        let (code, _, err) = with_reader(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        let closed = Command::new(BIN)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(closed_pipe())
            .stderr(closed_pipe())
            .status()
            .unwrap();
        assert_eq!(closed.code(), Some(2), "{args:?}");
    }
}
