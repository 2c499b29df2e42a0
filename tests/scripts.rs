//! The user scripts, end to end: start3.sh, the refusal to start twice, stop.sh leaving no
//! process behind, and `maekawa check` on the result; a second start3.sh moving the first run
//! to logs/previous/ while start-node.sh (a restart inside a run) moves nothing. (Crash
//! recovery itself is tested in crash.rs.)

mod common;

use common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn script(name: &str, args: &[&str], config: &Path, log_dir: &Path) -> std::process::Output {
    Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/").to_string() + name)
        .args(args)
        .env("MAEKAWA_CONFIG", config)
        .env("MAEKAWA_LOG_DIR", log_dir)
        .env("MAEKAWA_NODE_ARGS", "--think-ms 0..20 --hold-ms 0..3")
        .env("MAEKAWA_BIN", BIN)
        .env("SKIP_BUILD", "1")
        .output()
        .unwrap()
}

/// Runs stop.sh when the test ends, even by a panic: the scripts start daemons in the
/// background (not children of the test), so nothing else would stop them.
struct StopOnDrop<'a> {
    config: &'a Path,
    logs: &'a Path,
}

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = script("stop.sh", &[], self.config, self.logs);
    }
}

fn pid_of(log_dir: &Path, id: usize) -> u32 {
    std::fs::read_to_string(log_dir.join(format!("node-{id}.pid")))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

/// The scripts run what MAEKAWA_BIN names: make sure the node is this build, not an older
/// target/release/maekawa (with CARGO_TARGET_DIR set, cargo never writes there).
fn assert_runs_this_build(pid: u32) {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(
        exe,
        std::fs::canonicalize(BIN).unwrap(),
        "PID {pid} runs another binary than this test's"
    );
}

#[test]
fn start3_refuse_twice_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let logs = dir.path().join("logs");
    let cs_enters = |node: u64| {
        read_json_lines(&logs.join("critical_section.log"))
            .iter()
            .filter(|l| l["event"] == "enter" && l["node"] == node)
            .count()
    };

    let _stop = StopOnDrop {
        config: &config,
        logs: &logs,
    };
    let out = script("start3.sh", &[], &config, &logs);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pids: Vec<u32> = (0..3).map(|id| pid_of(&logs, id)).collect();
    for &pid in &pids {
        assert_runs_this_build(pid);
    }
    wait_for(
        "all three nodes to enter 5 times",
        Duration::from_secs(30),
        || (0..3).all(|n| cs_enters(n) >= 5),
    );

    let again = script("start3.sh", &[], &config, &logs);
    assert!(!again.status.success(), "a second start3.sh must refuse");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already running"));
    assert!(
        !logs.join("previous").exists(),
        "a refused start3.sh moved the running cluster's logs"
    );

    let stop = script("stop.sh", &[], &config, &logs);
    let said = String::from_utf8_lossy(&stop.stdout);
    assert!(stop.status.success(), "{said}");
    for &pid in &pids {
        assert!(
            !alive(pid),
            "PID {pid} still running after stop.sh:\n{said}"
        );
    }
    assert_eq!(said.matches("stopped").count(), 3, "{said}");
    let check = Command::new(BIN)
        .arg("check")
        .arg("--log-dir")
        .arg(&logs)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// The files of one run that start3.sh moves aside before the next one, by name.
fn run_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let of_run = name == "critical_section.log"
            || (name.starts_with("node-")
                && [".log", ".out", ".journal", ".incarnation"]
                    .iter()
                    .any(|ext| name.ends_with(ext)));
        if of_run && entry.file_type().unwrap().is_file() {
            files.insert(name, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}

/// (node, incarnation) of every `start` line of a CS log, in file order.
fn cs_starts(logs: &Path) -> Vec<(u64, u64)> {
    read_json_lines(&logs.join("critical_section.log"))
        .iter()
        .filter(|l| l["event"] == "start")
        .map(|l| {
            (
                l["node"].as_u64().unwrap(),
                l["incarnation"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// What `maekawa ARGS` prints (stdout, stderr) and whether it succeeded.
fn maekawa(args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Kills (by PID) and reaps a node this test started by hand, even when the test fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 12, item 4: a second start3.sh moves the first run's files to
/// logs/previous/<time>/ and says so, so that the logs, `check`, `report` and `timeline` see
/// one run; start-node.sh (a restart inside a run) moves nothing; and nothing moves while a
/// node of the old run still runs in the log directory.
#[test]
fn start3_keeps_each_run_apart() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let logs = dir.path().join("logs");
    let previous = logs.join("previous");
    let _stop = StopOnDrop {
        config: &config,
        logs: &logs,
    };
    let enters = |logs: &Path, node: u64| {
        read_json_lines(&logs.join("critical_section.log"))
            .iter()
            .filter(|l| l["event"] == "enter" && l["node"] == node)
            .count()
    };
    let ok = |out: &std::process::Output, what: &str| {
        assert!(
            out.status.success(),
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Run 1, with node 1 crashed and restarted inside it.
    let first = ok(&script("start3.sh", &[], &config, &logs), "start3.sh");
    assert!(!first.contains("previous"), "nothing to move yet:\n{first}");
    wait_for(
        "run 1: every node enters 3 times",
        Duration::from_secs(30),
        || (0..3).all(|n| enters(&logs, n) >= 3),
    );
    ok(
        &script("kill-node.sh", &["1"], &config, &logs),
        "kill-node.sh 1",
    );
    let before_restart = enters(&logs, 1);
    ok(
        &script("start-node.sh", &["1"], &config, &logs),
        "start-node.sh 1",
    );
    assert!(
        !previous.exists(),
        "start-node.sh (a restart inside the run) moved files to {}",
        previous.display()
    );
    assert_eq!(
        cs_starts(&logs).last(),
        Some(&(1, 2)),
        "the restart continues node 1's incarnations in the same run"
    );
    wait_for(
        "run 1: node 1 enters after its restart",
        Duration::from_secs(30),
        || enters(&logs, 1) > before_restart,
    );
    ok(&script("stop.sh", &[], &config, &logs), "stop.sh");
    let run1 = run_files(&logs);
    for name in ["critical_section.log", "node-1.log", "node-1.out"]
        .into_iter()
        .map(String::from)
        .chain((0..3).flat_map(|n| [format!("node-{n}.journal"), format!("node-{n}.incarnation")]))
    {
        assert!(
            run1.contains_key(&name),
            "run 1 left no {name}: {:?}",
            run1.keys()
        );
    }

    // Run 2: the logs at the top hold this run only.
    let second = ok(&script("start3.sh", &[], &config, &logs), "start3.sh again");
    wait_for(
        "run 2: every node enters 3 times",
        Duration::from_secs(30),
        || (0..3).all(|n| enters(&logs, n) >= 3),
    );
    let mut starts = cs_starts(&logs);
    starts.sort();
    assert_eq!(
        starts,
        [(0, 1), (1, 1), (2, 1)],
        "critical_section.log should hold run 2 only: one start per node, a new cluster at \
         incarnation 1 (start3.sh said:\n{second})"
    );
    for n in 0..3 {
        let node_starts: Vec<_> = read_json_lines(&logs.join(format!("node-{n}.log")))
            .into_iter()
            .filter(|l| l["event"] == "start")
            .collect();
        assert_eq!(
            node_starts.len(),
            1,
            "node-{n}.log mixes runs: {node_starts:?}"
        );
        assert_eq!(node_starts[0]["journaled_lock"], "none", "node {n}");
    }

    // Run 1 is whole in logs/previous/<time>/, and start3.sh said where, in one line.
    let moved: Vec<_> = std::fs::read_dir(&previous)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(moved.len(), 1, "{moved:?}");
    let run1_dir = &moved[0];
    let said: Vec<&str> = second.lines().filter(|l| l.contains("previous")).collect();
    assert_eq!(said.len(), 1, "one line about the move:\n{second}");
    assert!(
        said[0].contains(&run1_dir.display().to_string()),
        "{said:?} should name {}",
        run1_dir.display()
    );
    assert!(
        run_files(run1_dir) == run1,
        "{} should hold run 1's files as they were: {:?} against {:?}",
        run1_dir.display(),
        run_files(run1_dir).keys(),
        run1.keys()
    );
    ok(&script("stop.sh", &[], &config, &logs), "stop.sh");

    // Each run checks on its own; check, report and timeline of the current run read the top
    // level only: the same output with logs/previous there and without it.
    let (passed, said, _) = maekawa(&[
        "check".as_ref(),
        "--log-dir".as_ref(),
        run1_dir.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
    ]);
    assert!(passed, "check of run 1 in {}: {said}", run1_dir.display());
    let svg = dir.path().join("timeline.svg");
    let current = || {
        let check = maekawa(&[
            "check".as_ref(),
            "--log-dir".as_ref(),
            logs.as_os_str(),
            "--config".as_ref(),
            config.as_os_str(),
        ]);
        assert!(check.0, "check of run 2: {}", check.1);
        let report = maekawa(&["report".as_ref(), "--log-dir".as_ref(), logs.as_os_str()]);
        assert!(report.0, "report: {}", report.2);
        let timeline = maekawa(&[
            "timeline".as_ref(),
            "--log-dir".as_ref(),
            logs.as_os_str(),
            "-o".as_ref(),
            svg.as_os_str(),
        ]);
        assert!(timeline.0, "timeline: {}", timeline.2);
        (check.1, report.1, std::fs::read(&svg).unwrap())
    };
    let with_previous = current();
    let aside = dir.path().join("previous-aside");
    std::fs::rename(&previous, &aside).unwrap();
    let without_previous = current();
    std::fs::rename(&aside, &previous).unwrap();
    assert!(
        with_previous == without_previous,
        "check, report or timeline read logs/previous/"
    );

    // A node still running in the log directory, even one started by hand (no PID file), keeps
    // start3.sh from moving anything: its journal and incarnation still matter.
    let run2 = run_files(&logs);
    let hand = KillOnDrop(
        Command::new(BIN)
            .args(["node", "--id", "0", "--workload", "manual"])
            .arg("--config")
            .arg(&config)
            .arg("--log-dir")
            .arg(&logs)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(
        "the hand-started node 0 to start",
        Duration::from_secs(10),
        || cs_starts(&logs).contains(&(0, 2)),
    );
    let refused = script("start3.sh", &[], &config, &logs);
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "start3.sh must refuse: {err}");
    assert!(
        err.contains("node 0") && err.contains(&hand.0.id().to_string()),
        "the refusal should name node 0 and its PID {}: {err}",
        hand.0.id()
    );
    assert_eq!(
        std::fs::read_dir(&previous).unwrap().count(),
        1,
        "start3.sh moved files while node 0 runs"
    );
    let now = run_files(&logs);
    assert_eq!(
        now.keys().collect::<Vec<_>>(),
        run2.keys().collect::<Vec<_>>(),
        "start3.sh moved files while node 0 runs"
    );
    drop(hand);
}
