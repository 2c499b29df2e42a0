//! How `maekawa` reads its command line and talks back: where the shared flags may go, what
//! a mistake on the command line prints, the exit codes (README, "Exit codes"), and the help
//! text of every subcommand.

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
    let mut c = Cluster::prepare(1);
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

/// A mistake on the command line is one `error:` line that names the flag or value, says
/// where to read more, and exits 2; nothing goes to stdout.
#[test]
fn usage_errors_are_one_line_and_exit_2() {
    let cwd = std::env::temp_dir();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["node", "--id", "0", "--workload", "foo"],
            &[
                "'foo'",
                "--workload",
                "[possible values: auto, manual]",
                "(see maekawa node --help)",
            ],
        ),
        (
            &["node", "--id", "0", "--hold-ms", "9..3"],
            &[
                "'9..3'",
                "the lower bound is above the upper one",
                "(see maekawa node --help)",
            ],
        ),
        (&["node"], &["--id <ID>", "(see maekawa node --help)"]),
        (
            &["node", "--id", "0", "--suspect-after", "0"],
            &[
                "'0' is not a number of milliseconds from 1 to 3600000",
                "(see maekawa node --help)",
            ],
        ),
        (
            &["ctl", "status", "--confg", "q.json"],
            &[
                "'--confg'",
                "tip: a similar argument exists: '--config'",
                "(see maekawa ctl status --help)",
            ],
        ),
        (
            &["ctl", "--node", "1"],
            &[
                "requires a subcommand",
                "[subcommands: request, release, cancel, health, status",
                "(see maekawa ctl --help)",
            ],
        ),
        (
            &["report", "--node", "1"],
            &["--entry <ENTRY>", "(see maekawa report --help)"],
        ),
        (
            &["simulate", "--nodes", "0"],
            &["'0'", "--nodes", "(see maekawa simulate --help)"],
        ),
        (
            &["explore", "extra"],
            &["'extra'", "(see maekawa explore --help)"],
        ),
        (&["frobnicate"], &["'frobnicate'", "(see maekawa --help)"]),
    ];
    for (args, parts) in cases {
        let (code, out, err) = maekawa(&cwd, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?} printed to stdout: {out}");
        assert!(
            err.starts_with("error: ") && err.ends_with('\n') && err.lines().count() == 1,
            "{args:?}: not one error line: {err:?}"
        );
        for p in *parts {
            assert!(err.contains(p), "{args:?}: {p:?} missing from {err:?}");
        }
    }
}

/// `--help` and `--version` are answers, not mistakes: printed in full on stdout, exit 0.
#[test]
fn help_and_version_print_in_full_and_exit_0() {
    let cwd = std::env::temp_dir();
    for args in [
        &["--help"][..],
        &["-h"],
        &["help", "ctl"],
        &["node", "--help"],
        &["ctl", "status", "--help"],
    ] {
        let (code, out, err) = maekawa(&cwd, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?}: {err}");
        assert!(out.lines().count() > 5, "{args:?}: {out}");
        assert!(out.contains("Usage: maekawa"), "{args:?}: {out}");
    }
    let (code, out, _) = maekawa(&cwd, &["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out, format!("maekawa {}\n", env!("CARGO_PKG_VERSION")));
    // A command given nothing at all shows its help instead, on stderr, with exit 2.
    for args in [&[][..], &["ctl"]] {
        let (code, out, err) = maekawa(&cwd, args);
        assert_eq!(code, 2, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(err.contains("Usage: maekawa"), "{args:?}: {err}");
    }
}

/// `ctl status --all` follows the rule of `ctl --node N status`, where a node that does not
/// answer is exit 2: 2 when no node answers, 1 when some do not, 0 when all do; the table is
/// printed every time, with one row per node.
#[test]
fn ctl_status_all_exit_code_says_whether_every_node_answered() {
    let mut c = Cluster::prepare(2);
    let config = c.config.to_str().unwrap().to_owned();
    let cwd = c.log_dir.clone();
    let all = |cwd: &Path| maekawa(cwd, &["ctl", "--config", &config, "status", "--all"]);
    let answers = |cwd: &Path, id: &str| {
        maekawa(cwd, &["ctl", "--config", &config, "--node", id, "status"]).0 == 0
    };

    let (code, out, err) = all(&cwd);
    assert_eq!(code, 2, "no node runs: {out}{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert_eq!(out.matches("is not running").count(), 2, "{out}");

    c.start_node(0, &["--workload", "manual"]);
    wait_for("node 0 to answer ctl", Duration::from_secs(20), || {
        answers(&cwd, "0")
    });
    let (code, out, err) = all(&cwd);
    assert_eq!(code, 1, "node 1 is down: {out}{err}");
    assert_eq!(out.lines().count(), 3, "{out}");
    assert!(
        out.lines().nth(1).unwrap().starts_with("0     idle"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(2)
            .unwrap()
            .contains("node 1 is not running"),
        "{out}"
    );

    c.start_node(1, &["--workload", "manual"]);
    wait_for("node 1 to answer ctl", Duration::from_secs(20), || {
        answers(&cwd, "1")
    });
    let (code, out, err) = all(&cwd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains("not running"), "{out}");
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
}
