//! `maekawa check` and the three log modules behind it.
//!
//! The library test writes a node log as the daemon does (a `NodeLog` value) and a CS log:
//! what `NodeLog` and `CsLog` write is what `check` reads. The command-line tests run the built binary on hand-written log directories.

use maekawa::config::Config;
use maekawa::daemon::cslog::CsLog;
use maekawa::daemon::node_log::NodeLog;
use maekawa::daemon::rotating::Rotation;
use maekawa::logs::check;
use maekawa::node_event::{LogMessages, MsgLine, NodeEvent};
use maekawa_core::id::{Incarnation, Lamport, NodeId, RequestId};
use maekawa_core::protocol::MsgKind;
use std::path::Path;
use std::process::Command;

const CONFIG: &str =
    r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "127.0.0.1:2"}]}"#;

/// Runs `maekawa check` on `cs_log` (node logs absent) and returns (exit code, stdout, stderr).
fn run_check(cs_log: Option<&str>) -> anyhow::Result<(i32, String, String)> {
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("quorums.json");
    std::fs::write(&config, CONFIG)?;
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs)?;
    if let Some(text) = cs_log {
        std::fs::write(logs.join("critical_section.log"), text)?;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .arg("check")
        .arg("--log-dir")
        .arg(&logs)
        .arg("--config")
        .arg(&config)
        .output()?;
    Ok((
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

const T: &str = "2025-01-01T00:00:00.000000Z";

fn enter(node: u32, entry: u64, ts: u64) -> String {
    format!(
        "{{\"event\":\"enter\",\"node\":{node},\"entry\":{entry},\"request\":{{\"ts\":{ts},\"node\":{node}}},\"votes\":[0,1],\"time\":\"{T}\"}}\n"
    )
}

fn exit(node: u32, entry: u64) -> String {
    format!("{{\"event\":\"exit\",\"node\":{node},\"entry\":{entry},\"time\":\"{T}\"}}\n")
}

fn start(node: u32, inc: u64) -> String {
    format!("{{\"event\":\"start\",\"node\":{node},\"incarnation\":{inc},\"time\":\"{T}\"}}\n")
}

#[test]
fn cli_passes_a_clean_log() -> anyhow::Result<()> {
    let log = [
        start(0, 1),
        start(1, 1),
        enter(0, 1, 2),
        exit(0, 1),
        enter(1, 1, 4),
        exit(1, 1),
    ]
    .concat();
    let (code, out, err) = run_check(Some(&log))?;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.lines().next(),
        Some(
            "check passed: 2 nodes, 2 CS entries (0: 1, 1: 1), 2 starts, 0 node logs, 0 violations"
        )
    );
    Ok(())
}

#[test]
fn cli_fails_an_overlap() -> anyhow::Result<()> {
    let log = [
        start(0, 1),
        start(1, 1),
        enter(0, 1, 2),
        enter(1, 1, 4),
        exit(0, 1),
        exit(1, 1),
    ]
    .concat();
    let (code, out, err) = run_check(Some(&log))?;
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        out.lines().next(),
        Some("check FAILED: 1 violation in 2 CS entries")
    );
    Ok(())
}

#[test]
fn cli_explains_a_missing_log() -> anyhow::Result<()> {
    let (code, out, err) = run_check(None)?;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.trim_end().ends_with(
            "critical_section.log: not found; is --log-dir the directory the nodes wrote to?"
        ),
        "{err}"
    );
    Ok(())
}

#[test]
fn what_the_node_writes_the_checker_accepts() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config::parse(
        Path::new("quorums.json"),
        r#"{"nodes": [{"id": 0, "addr": "127.0.0.1:1"}, {"id": 1, "addr": "127.0.0.1:2"}]}"#,
    )?;
    let me = NodeId(1);
    let quorum = config.quorums.quorum(me).to_vec();
    let req = RequestId {
        ts: Lamport(4),
        node: me,
        inc: Incarnation(1),
        epoch: maekawa_core::id::Epoch(0),
    };

    let log = NodeLog::open(dir.path(), me, Rotation::NEVER)?;
    let mut cs = CsLog::open(dir.path())?;
    log.log(&NodeEvent::Start {
        incarnation: 7,
        addr: String::new(),
        quorum: Vec::new(),
        pid: 0,
        workload: None,
        journaled_lock: None,
        journaled_votes: 0,
        token_floor: 0,
        tls: false,
        log_messages: LogMessages::All,
        quiet_ms: None,
        awaits_floor: None,
    });
    cs.start(me, 7)?;
    // As the driver writes a batch: held, then one write.
    log.hold();
    log.log(&NodeEvent::RequestCs {
        req_ts: req.ts.0,
        req_node: req.node,
        lock: None,
    });
    for v in &quorum {
        log.log(&NodeEvent::Recv(MsgLine {
            msg: MsgKind::Grant,
            from: *v,
            to: me,
            lamport: 6,
            req_ts: req.ts.0,
            req_node: req.node,
            req_inc: 0,
            lock: None,
            token: None,
            holds_grant: None,
            to_inc: None,
        }));
    }
    log.write_held();
    cs.enter(me, 1, req, &quorum, 1)?;
    log.log(&NodeEvent::EnterCs {
        entry: Some(1),
        req_ts: req.ts.0,
        req_node: req.node,
        votes: Some(quorum.clone()),
        wait_ms: None,
        lock: None,
        token: None,
    });
    cs.exit(me, 1)?;
    log.log(&NodeEvent::ExitCs {
        entry: Some(1),
        lock: None,
        req_ts: req.ts.0,
        req_node: req.node,
        token: None,
    });
    log.log(&NodeEvent::Stop {
        entries: 1,
        flushed: true,
    });
    log.release(); // writes what is still held

    let text = std::fs::read_to_string(dir.path().join("node-1.log"))?;
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "start",
            "request_cs",
            "recv",
            "recv",
            "enter_cs",
            "exit_cs",
            "stop"
        ]
    );
    assert_eq!(lines[4]["votes"], serde_json::json!([0, 1]));
    assert_eq!(lines[4]["node"], 1);
    assert_eq!(lines[4]["level"], "INFO");

    let report = check::check(dir.path(), &config)?;
    assert!(report.passed(), "{report}");
    assert_eq!(report.entries, 1);
    assert_eq!(report.node_logs, [me]);
    Ok(())
}
