//! `maekawa quorums --config FILE` as a user runs it: the committed quorums.json prints its grid
//! and exits 0, `"quorum_system": "majority"` prints majorities; a broken file exits 2 with one
//! `error:` line naming the file and the field.

use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn quorums(config: &Path) -> Result<Output> {
    Command::new(env!("CARGO_BIN_EXE_maekawa"))
        .arg("quorums")
        .arg("--config")
        .arg(config)
        .output()
        .context("running maekawa quorums")
}

fn committed_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("quorums.json")
}

#[test]
fn committed_file_prints_the_grid() -> Result<()> {
    let out = quorums(&committed_file())?;
    let stdout = String::from_utf8(out.stdout)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(
        out.status.code() == Some(0),
        "status {:?}, stderr: {stderr}",
        out.status
    );
    for line in [
        "grid: 3 nodes in rows of 2",
        "Q(0) = {0, 1, 2}",
        "Q(1) = {0, 1}",
        "Q(2) = {0, 2}",
        "all 3 pairs intersect",
        "survives: any 1 dead node of 3 (worst case); a requester switches to any full row plus any full column without a suspected node",
    ] {
        ensure!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    Ok(())
}

#[test]
fn majority_is_printed_with_what_it_survives() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("majority.json");
    let nodes: Vec<String> = (0..9)
        .map(|i| format!(r#"{{"id": {i}, "addr": "node{i}:50051"}}"#))
        .collect();
    let text = format!(
        r#"{{"nodes": [{}], "quorum_system": "majority"}}"#,
        nodes.join(", ")
    );
    std::fs::write(&path, text)?;
    let out = quorums(&path)?;
    let stdout = String::from_utf8(out.stdout)?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "majority: 9 nodes, any 5 of them form a quorum",
        "Q(0) = {0, 1, 2, 3, 4}  size 5",
        "Q(7) = {0, 1, 2, 7, 8}  size 5",
        "all 36 pairs intersect",
        "survives: any 4 dead nodes of 9 (worst case); a requester switches to any majority without a suspected node",
    ] {
        ensure!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    ensure!(!stdout.contains("grid"), "a grid in:\n{stdout}");
    Ok(())
}

#[test]
fn explicit_fano_plane_is_printed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("fano.json");
    let nodes: Vec<String> = (0..7)
        .map(|i| format!(r#"{{"id": {i}, "addr": "node{i}:50051"}}"#))
        .collect();
    let text = format!(
        r#"{{"nodes": [{}], "quorums": {{"0": [0, 1, 2], "1": [1, 3, 5], "2": [2, 4, 5],
            "3": [0, 3, 4], "4": [1, 4, 6], "5": [0, 5, 6], "6": [2, 3, 6]}}}}"#,
        nodes.join(", ")
    );
    std::fs::write(&path, text)?;
    let out = quorums(&path)?;
    let stdout = String::from_utf8(out.stdout)?;
    ensure!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "explicit quorums for 7 nodes",
        "Q(4) = {1, 4, 6}",
        "all 21 pairs intersect",
        "survives: any 2 dead nodes of 7 (worst case); a requester switches to any listed quorum without a suspected node",
    ] {
        ensure!(stdout.contains(line), "{line:?} missing from:\n{stdout}");
    }
    Ok(())
}

/// Each bad file, and what its one stderr line must contain besides the file name.
const BAD: &[(&str, &str, &[&str])] = &[
    ("empty.json", "", &["invalid JSON", "line 1"]),
    (
        "syntax.json",
        "{\"nodes\": [\n{\"id\": 0,}\n]}",
        &["invalid JSON", "line 2"],
    ),
    (
        "no-nodes.json",
        r#"{"nodes": []}"#,
        &["nodes: the list is empty"],
    ),
    ("missing-nodes.json", "{}", &["nodes: missing"]),
    ("typo.json", r#"{"node": []}"#, &["node: unknown field"]),
    (
        "dup-id.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 0, "addr": "a:2"}]}"#,
        &["nodes[1].id: duplicate id 0 (also nodes[0])", "distinct id"],
    ),
    (
        "dup-addr.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:1"}]}"#,
        &["nodes[1].addr: duplicate address"],
    ),
    (
        "bad-addr.json",
        r#"{"nodes": [{"id": 0, "addr": "127.0.0.1"}]}"#,
        &["nodes[0].addr", "not host:port"],
    ),
    (
        "disjoint.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}],
            "quorums": {"0": [0], "1": [1]}}"#,
        &["quorums.0 and quorums.1 do not intersect"],
    ),
    (
        "no-owner.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}, {"id": 1, "addr": "a:2"}],
            "quorums": {"0": [0, 1], "1": [0]}}"#,
        &["quorums.1: does not contain node 1"],
    ),
    (
        "bad-system.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum_system": "raft"}"#,
        &[
            r#"quorum_system: the string "raft" is not a quorum system"#,
            r#"use "grid" (the default) or "majority""#,
        ],
    ),
    (
        "system-and-quorums.json",
        r#"{"nodes": [{"id": 0, "addr": "a:1"}], "quorum_system": "majority",
            "quorums": {"0": [0]}}"#,
        &["quorum_system and quorums: both are given"],
    ),
];

#[test]
fn bad_files_exit_2_naming_file_and_field() -> Result<()> {
    let dir = tempfile::tempdir()?;
    for (name, text, parts) in BAD {
        let path = dir.path().join(name);
        std::fs::write(&path, text)?;
        let out = quorums(&path)?;
        let stderr = String::from_utf8(out.stderr)?;
        ensure!(
            out.status.code() == Some(2),
            "{name}: status {:?}, stderr: {stderr}",
            out.status
        );
        ensure!(out.stdout.is_empty(), "{name}: printed to stdout");
        ensure!(
            stderr.starts_with("error: ") && stderr.trim_end().lines().count() == 1,
            "{name}: not one error line: {stderr:?}"
        );
        ensure!(stderr.contains(*name), "{name}: file not named: {stderr}");
        for p in *parts {
            ensure!(stderr.contains(p), "{name}: {p:?} missing from: {stderr}");
        }
    }
    Ok(())
}

#[test]
fn missing_file_says_how_to_fix_it() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let out = quorums(&dir.path().join("absent.json"))?;
    let stderr = String::from_utf8(out.stderr)?;
    ensure!(out.status.code() == Some(2), "status {:?}", out.status);
    for p in ["error: ", "absent.json", "create it", "--config"] {
        ensure!(stderr.contains(p), "{p:?} missing from: {stderr}");
    }
    Ok(())
}
