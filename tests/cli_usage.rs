//! How `maekawa` reads its command line and talks back: where the shared flags may go, and
//! the help text of every subcommand.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Runs `maekawa args...` in `cwd` and returns (exit code, stdout, stderr).
fn maekawa(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run maekawa");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `--config` and `--node` are `ctl`'s, but users write them after the action too (README's
/// table, the hint of scripts/start3.sh): every position gives the same answer. The commands
/// run in a directory without a quorums.json, so a flag that was dropped would show.
#[test]
fn ctl_flags_are_accepted_before_and_after_the_action() {
    let mut c = Cluster::prepare_outside_ephemeral(1);
    c.start_node(0, &["--workload", "manual"]);
    let config = c.config.to_str().unwrap().to_owned();
    let cwd = c.log_dir.clone();
    assert!(!cwd.join("quorums.json").exists());
    wait_for("node 0 to answer ctl", Duration::from_secs(20), || {
        maekawa(&cwd, &["ctl", "--config", &config, "--node", "0", "status"]).0 == 0
    });

    for args in [
        ["ctl", "status", "--node", "0", "--config", &config],
        ["ctl", "--node", "0", "status", "--config", &config],
        ["ctl", "--config", &config, "status", "--node", "0"],
    ] {
        let (code, out, err) = maekawa(&cwd, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(
            out.starts_with("node 0 (incarnation 1, manual workload): idle\n"),
            "{args:?}: {out}"
        );
    }
    for args in [
        &["ctl", "status", "--all", "--config", &config][..],
        &["ctl", "status", "--config", &config, "--all"][..],
    ] {
        let (code, out, err) = maekawa(&cwd, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert_eq!(out.lines().count(), 2, "header and node 0: {out}");
        assert!(
            out.lines().nth(1).unwrap().starts_with("0     idle"),
            "{out}"
        );
    }
    let (code, out, err) = maekawa(
        &cwd,
        &["ctl", "request", "--config", &config, "--node", "0"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("node 0 requested the CS"), "{out}");
    wait_for("node 0 to enter alone", Duration::from_secs(20), || {
        maekawa(&cwd, &["ctl", "status", "--node", "0", "--config", &config])
            .1
            .contains("in the CS")
    });
    let (code, _, err) = maekawa(
        &cwd,
        &["ctl", "release", "--node", "0", "--config", &config],
    );
    assert_eq!(code, 0, "{err}");

    // A flag given after the action is not lost: an id not in the file is named.
    let (code, _, err) = maekawa(&cwd, &["ctl", "status", "--config", &config, "--node", "7"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("id 7 is not in the file"), "{err}");
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}

/// The subcommands listed in the "Commands:" section of a help text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim_end() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every help text, of `maekawa` and of each subcommand at any depth, is plain text: no
/// rustdoc links (`[`Control`]`) or Markdown fences leak in from doc comments.
#[test]
fn help_texts_have_no_rustdoc_syntax() {
    let cwd = std::env::temp_dir();
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = Vec::new();
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let (code, out, err) = maekawa(&cwd, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: maekawa"), "{args:?}: {out}");
        for bad in ["[`", "`]", "```"] {
            assert!(!out.contains(bad), "{args:?} shows {bad:?}:\n{out}");
        }
        for sub in subcommands(&out) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        seen.push(path.join(" "));
    }
    // The walk reached every subcommand, the nested ones of ctl included.
    for expected in [
        "",
        "node",
        "ctl",
        "ctl status",
        "ctl request",
        "report",
        "explore",
    ] {
        assert!(
            seen.iter().any(|s| s == expected),
            "{expected:?} not in {seen:?}"
        );
    }
}
