//! The user scripts, end to end: start3.sh, the refusal to start twice, stop.sh leaving no
//! process behind, and `maekawa check` on the result. (kill-node.sh and a restart are tested
//! with crash recovery.)

mod common;

use common::*;
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
