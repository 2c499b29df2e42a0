//! Bad input to `maekawa node` and `maekawa check`: one clear line on stderr, non-zero exit.

mod common;

use common::*;
use std::process::Command;

fn node(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN).arg("node").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn an_id_not_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (code, err) = node(&[
        "--id",
        "7",
        "--config",
        config.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("id 7 is not in the file"), "{err}");
    assert!(err.contains("quorums.json"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn an_address_already_in_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let config = dir.path().join("quorums.json");
    std::fs::write(
        &config,
        format!(r#"{{"nodes": [{{"id": 0, "addr": "127.0.0.1:{port}"}}]}}"#),
    )
    .unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let (code, err) = node(&[
        "--id",
        "0",
        "--config",
        config.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_lowercase().contains("in use"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn an_unwritable_log_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    // A directory under a regular file can never be created or written (even by root).
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let logs = file.join("logs");
    let (code, err) = node(&[
        "--id",
        "0",
        "--config",
        config.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(logs.to_str().unwrap()), "{err}");
    assert!(err.contains("--log-dir"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_malformed_flag_value_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    for (flag, value) in [("--think-ms", "abc"), ("--hold-ms", "9..3"), ("--id", "-1")] {
        let (code, err) = node(&[
            "--id",
            if flag == "--id" { value } else { "0" },
            "--config",
            config.to_str().unwrap(),
            flag,
            value,
        ]);
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(err.contains("error"), "{err}");
        assert!(
            err.contains(value) || err.contains(flag),
            "{flag} {value}: {err}"
        );
    }
}

#[test]
fn check_on_a_directory_without_logs_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let out = Command::new(BIN)
        .args(["check", "--log-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("critical_section.log"), "{err}");
}

#[test]
fn a_second_process_for_the_same_node_id_is_refused_and_named() {
    let mut cluster = Cluster::prepare(2);
    cluster.start_node(0, &[]);
    let first = cluster.children[0].as_ref().unwrap().id();
    wait_for(
        "node 0 to start",
        std::time::Duration::from_secs(10),
        || cluster.node_log(0).iter().any(|l| l["event"] == "start"),
    );
    let (code, err) = node(&[
        "--id",
        "0",
        "--config",
        cluster.config.to_str().unwrap(),
        "--log-dir",
        cluster.log_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("already running"), "{err}");
    assert!(
        err.contains(&format!("PID {first}")),
        "names the holder: {err}"
    );
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    // The refused process changed nothing: still one start line.
    let starts = cluster
        .cs_lines()
        .iter()
        .filter(|l| l["event"] == "start")
        .count();
    assert_eq!(starts, 1);
}

#[test]
fn a_corrupt_journal_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 1);
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    // Two records, the first damaged: not a torn tail, so the voter cannot know its vote.
    std::fs::write(
        logs.join("node-0.journal"),
        "{\"seq\":1,\"lock\":null,\"sum\":\"0000000000000000\"}\n{\"seq\":2,\"lock\":null,\"sum\":\"0000000000000000\"}\n",
    )
    .unwrap();
    let (code, err) = node(&[
        "--id",
        "0",
        "--config",
        config.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("node-0.journal:1"), "{err}");
    assert!(err.contains("corrupt"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

#[test]
fn a_missing_log_dir_is_created() {
    let mut c = Cluster::prepare(1);
    c.log_dir = c.dir.path().join("new").join("nested").join("logs");
    assert!(!c.dir.path().join("new").exists());
    let child = Command::new(BIN)
        .args(["node", "--id", "0", "--config"])
        .arg(&c.config)
        .arg("--log-dir")
        .arg(&c.log_dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn maekawa node");
    // In the cluster's slot, so that it is killed (by PID) however this test ends.
    c.children[0] = Some(child);
    wait_for(
        "node 0's start line",
        std::time::Duration::from_secs(20),
        || {
            let child = c.children[0].as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                let mut err = String::new();
                std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
                panic!("the node exited ({status}): {err}");
            }
            c.node_log(0).iter().any(|l| l["event"] == "start")
        },
    );
    assert!(c.log_dir.join("node-0.lock").is_file());
    assert!(c.cs_lines().iter().any(|l| l["event"] == "start"));
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}
