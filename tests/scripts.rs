//! The user scripts, end to end: start3.sh, the refusal to start twice, stop.sh leaving no
//! process behind, and `maekawa check` on the result; a second start3.sh moving the first run
//! to logs/previous/ while start-node.sh (a restart inside a run) moves nothing. (Crash
//! recovery itself is tested in crash.rs.) And, by reading the scripts: bench-locks.sh and
//! availability-bench.sh install every command they run, the others run only what every
//! machine has.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
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
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(" watch --config "),
        "start3.sh names `maekawa watch`: {said}"
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

/// What a bash script runs, found by reading it (never running it): the first word of every
/// simple command, including those inside `$(...)`, backquotes and `<(...)`, and the functions
/// it defines. It knows quotes, comments, line continuations, here-documents (their bodies are
/// another program's text), assignments (`A=1 cmd`, `a=(...)`), redirections and their targets,
/// `for` word lists, `case` patterns, `[[ ... ]]`, and `nohup`/`exec`/`command` in front of a
/// command (`command -v x` only looks `x` up). Enough for scripts/; what it cannot read
/// (an unclosed quote or bracket, `;;` outside a `case`) makes it panic rather than guess.
#[derive(Debug, Default)]
struct ShellCommands {
    commands: BTreeSet<String>,
    functions: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Op(&'static str),
    Redirect,
    Newline,
    FuncDef(String),
}

impl ShellCommands {
    fn of(script: &str) -> ShellCommands {
        let mut found = ShellCommands::default();
        found.scan(script);
        found
    }

    fn scan(&mut self, src: &str) {
        let tokens = self.tokens(&src.chars().collect::<Vec<_>>());
        self.parse(&tokens);
    }

    /// The index just past the `close` that matches the opener before `start`, skipping quoted
    /// text and nested pairs.
    fn matching(chars: &[char], start: usize, open: char, close: char) -> usize {
        let (mut depth, mut i) = (1, start);
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 1,
                '\'' => {
                    i += 1;
                    while chars[i] != '\'' {
                        i += 1;
                    }
                }
                '"' => {
                    i += 1;
                    while chars[i] != '"' {
                        if chars[i] == '\\' {
                            i += 1;
                        } else if chars[i] == '$' && chars.get(i + 1) == Some(&'(') {
                            i = Self::matching(chars, i + 2, '(', ')') - 1;
                        }
                        i += 1;
                    }
                }
                // A here-document: its body, up to the delimiter's line, is not shell text.
                '<' if chars.get(i + 1) == Some(&'<') && chars.get(i + 2) != Some(&'<') => {
                    let mut j = i + 2;
                    while matches!(chars[j], '-' | ' ') {
                        j += 1;
                    }
                    let delimiter: String = chars[j..]
                        .iter()
                        .take_while(|c| !c.is_whitespace() && **c != ')')
                        .filter(|c| !matches!(c, '\'' | '"'))
                        .collect();
                    let text: String = chars[j..].iter().collect();
                    let body = text.find('\n').expect("a here-document has a body") + 1;
                    let mut at = body;
                    for line in text[body..].split_inclusive('\n') {
                        at += line.len();
                        if line.trim() == delimiter {
                            break;
                        }
                    }
                    i = j + text[..at].chars().count() - 1;
                }
                c if c == open => depth += 1,
                c if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        return i + 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        panic!("no {close} closes the {open} before {start}")
    }

    fn tokens(&mut self, chars: &[char]) -> Vec<Tok> {
        const OPS: [&str; 16] = [
            "&&", "||", ";;", "<<<", "<<", ">>", "&>", ">&", "<(", ">(", "|", "&", ";", "(", ")",
            "<",
        ];
        let mut toks = Vec::new();
        let mut heredocs: Vec<String> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let rest: String = chars[i..chars.len().min(i + 3)].iter().collect();
            if c == ' ' || c == '\t' {
                i += 1;
            } else if rest.starts_with("\\\n") {
                i += 2;
            } else if c == '\n' {
                toks.push(Tok::Newline);
                i += 1;
                for delimiter in heredocs.drain(..) {
                    loop {
                        let end = chars[i..].iter().position(|&c| c == '\n').map(|p| i + p);
                        let line: String = chars[i..end.unwrap_or(chars.len())].iter().collect();
                        i = end.map_or(chars.len(), |e| e + 1);
                        if line.trim() == delimiter {
                            break;
                        }
                        assert!(end.is_some(), "here-document {delimiter} never ends");
                    }
                }
            } else if c == '#' {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if let Some(op) = OPS.iter().chain(&[">"]).find(|op| rest.starts_with(**op)) {
                i += op.len();
                match *op {
                    "<(" | ">(" => {
                        let end = Self::matching(chars, i, '(', ')');
                        self.scan(&chars[i..end - 1].iter().collect::<String>());
                        i = end;
                        toks.push(Tok::Word(String::new()));
                    }
                    "<<" => {
                        if chars[i] == '-' {
                            i += 1;
                        }
                        while chars[i] == ' ' {
                            i += 1;
                        }
                        let (word, end) = self.word(chars, i);
                        heredocs.push(word);
                        i = end;
                    }
                    "<<<" | ">>" | "&>" | ">&" | "<" | ">" => toks.push(Tok::Redirect),
                    op => toks.push(Tok::Op(op)),
                }
            } else {
                let (word, end) = self.word(chars, i);
                let fd = word.chars().all(|c| c.is_ascii_digit())
                    && matches!(chars.get(end), Some('<' | '>'));
                i = end;
                if fd {
                    continue;
                }
                if chars.get(i) == Some(&'(') && chars.get(i + 1) == Some(&')') {
                    i += 2;
                    toks.push(Tok::FuncDef(word));
                } else {
                    toks.push(Tok::Word(word));
                }
            }
        }
        toks
    }

    /// One word from `start`, with its quotes removed and every command substitution in it
    /// scanned; returns the word and the index after it.
    fn word(&mut self, chars: &[char], start: usize) -> (String, usize) {
        let mut word = String::new();
        let mut i = start;
        let mut quoted = false;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            match c {
                '\\' => {
                    word.extend(next);
                    i += 2;
                    continue;
                }
                '\'' if !quoted => {
                    let end = i + 1 + chars[i + 1..].iter().position(|&c| c == '\'').unwrap();
                    word.extend(&chars[i + 1..end]);
                    i = end + 1;
                    continue;
                }
                '"' => quoted = !quoted,
                '$' if next == Some('(') && chars.get(i + 2) == Some(&'(') => {
                    let end = Self::matching(chars, i + 2, '(', ')');
                    word.extend(&chars[i..end]);
                    i = end;
                    continue;
                }
                '$' if next == Some('(') => {
                    let end = Self::matching(chars, i + 2, '(', ')');
                    self.scan(&chars[i + 2..end - 1].iter().collect::<String>());
                    word.push_str("$(...)");
                    i = end;
                    continue;
                }
                '$' if next == Some('{') => {
                    let end = Self::matching(chars, i + 2, '{', '}');
                    word.extend(&chars[i..end]);
                    i = end;
                    continue;
                }
                '`' => {
                    let end = i + 1 + chars[i + 1..].iter().position(|&c| c == '`').unwrap();
                    self.scan(&chars[i + 1..end].iter().collect::<String>());
                    word.push_str("$(...)");
                    i = end + 1;
                    continue;
                }
                // An array assignment: a=(...) is one word.
                '(' if !quoted && word.ends_with('=') => {
                    let end = Self::matching(chars, i + 1, '(', ')');
                    self.scan_words(&chars[i + 1..end - 1]);
                    word.push_str("(...)");
                    i = end;
                    continue;
                }
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '(' | ')' | '<' | '>' if !quoted => break,
                _ => word.push(c),
            }
            i += 1;
        }
        (word, i)
    }

    /// The words of an array literal: only their command substitutions run.
    fn scan_words(&mut self, chars: &[char]) {
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
            } else {
                i = self.word(chars, i).1.max(i + 1);
            }
        }
    }

    fn parse(&mut self, toks: &[Tok]) {
        #[derive(Debug, PartialEq)]
        enum Case {
            Head,
            Pattern,
            Body,
        }
        let is_assignment = |w: &str| {
            let Some(eq) = w.find('=') else { return false };
            let name = w[..eq].trim_end_matches('+');
            let name = name.split('[').next().unwrap();
            !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let (mut command_here, mut word_list, mut in_test, mut redirect, mut prefix) =
            (true, false, false, false, false);
        let mut cases: Vec<Case> = Vec::new();
        for tok in toks {
            match tok {
                Tok::Redirect => redirect = true,
                Tok::Word(_) if redirect => redirect = false,
                Tok::FuncDef(name) => {
                    self.functions.insert(name.clone());
                    command_here = true;
                }
                Tok::Op(op) if in_test && *op != ")" => {}
                Tok::Newline | Tok::Op(";" | "&" | "&&" | "||" | "|" | "(") => {
                    word_list = false;
                    command_here = true;
                    prefix = false;
                }
                Tok::Op(")") if cases.last() == Some(&Case::Pattern) => {
                    *cases.last_mut().unwrap() = Case::Body;
                    command_here = true;
                }
                Tok::Op(";;") => {
                    assert_eq!(cases.last(), Some(&Case::Body), ";; outside a case");
                    *cases.last_mut().unwrap() = Case::Pattern;
                }
                Tok::Op(_) => command_here = false,
                Tok::Word(w) if in_test => in_test = w != "]]",
                Tok::Word(w) if cases.last() == Some(&Case::Head) => {
                    if w == "in" {
                        *cases.last_mut().unwrap() = Case::Pattern;
                    }
                }
                Tok::Word(w) if cases.last() == Some(&Case::Pattern) => {
                    if w == "esac" {
                        cases.pop();
                        command_here = false;
                    }
                }
                Tok::Word(_) if word_list || !command_here => {}
                Tok::Word(w) if prefix && w.starts_with('-') => command_here = false,
                // `exec {fd}<file`: a redirection to a new descriptor, not a command.
                Tok::Word(w)
                    if prefix
                        && w.len() > 2
                        && w.starts_with('{')
                        && w.ends_with('}')
                        && w[1..w.len() - 1]
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    command_here = false
                }
                Tok::Word(w) => match w.as_str() {
                    "if" | "then" | "else" | "elif" | "do" | "while" | "until" | "!" | "{"
                    | "time" => {}
                    "fi" | "done" | "}" => command_here = false,
                    "esac" => {
                        assert_eq!(cases.pop(), Some(Case::Body), "esac outside a case");
                        command_here = false;
                    }
                    "for" | "select" => word_list = true,
                    "case" => cases.push(Case::Head),
                    "[[" => in_test = true,
                    w if is_assignment(w) => {}
                    w => {
                        self.commands.insert(w.to_string());
                        prefix = matches!(w, "nohup" | "exec" | "command" | "builtin");
                        command_here = prefix;
                    }
                },
            }
        }
    }
}

/// bash's builtins and what is on every machine this project runs on: Debian's Essential
/// packages (coreutils, sed, grep, util-linux), apt-get (how the scripts install the rest) and
/// the Rust toolchain.
const BASH_BUILTINS: &[&str] = &[
    ".",
    ":",
    "[",
    "break",
    "builtin",
    "cd",
    "command",
    "continue",
    "declare",
    "echo",
    "eval",
    "exec",
    "exit",
    "export",
    "false",
    "getopts",
    "kill",
    "local",
    "mapfile",
    "printf",
    "pwd",
    "read",
    "readarray",
    "return",
    "set",
    "shift",
    "shopt",
    "source",
    "test",
    "trap",
    "true",
    "type",
    "unset",
    "wait",
];
const ALWAYS_THERE: &[&str] = &[
    // coreutils
    "basename", "cat", "chmod", "cp", "date", "dirname", "env", "head", "id", "ln", "ls", "mkdir",
    "mktemp", "mv", "nohup", "nproc", "readlink", "rm", "seq", "sleep", "sort", "tail", "tee",
    "touch", "tr", "uname", "wc", // sed, grep, util-linux
    "sed", "grep", "flock", // apt, the Rust toolchain
    "apt-get", "cargo",
];

/// What bench-locks.sh needs beyond ALWAYS_THERE, and the Debian package that has each
/// (`dpkg -c` on bookworm's packages: etcd-client has /usr/bin/etcdctl, etcd-server
/// /usr/bin/etcd, zookeeper /usr/share/zookeeper/bin/zkServer.sh, which the script puts on
/// its PATH, redis-server /usr/bin/redis-server, redis-tools /usr/bin/redis-cli).
const DEBIAN_PACKAGE_OF: &[(&str, &str)] = &[
    ("etcd", "etcd-server"),
    ("etcdctl", "etcd-client"),
    ("protoc", "protobuf-compiler"),
    ("python3", "python3"),
    ("redis-cli", "redis-tools"),
    ("redis-server", "redis-server"),
    ("zkServer.sh", "zookeeper"),
];

fn read_script(name: &str) -> String {
    std::fs::read_to_string(format!("{}/scripts/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The `[command]=package` lines of bench-locks.sh's `declare -A PACKAGE_OF=(...)`.
fn install_table(script: &str) -> BTreeMap<String, String> {
    let Some(start) = script.find("declare -A PACKAGE_OF=(") else {
        return BTreeMap::new();
    };
    script[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.trim() != ")")
        .filter_map(|l| {
            let (cmd, pkg) = l.trim().strip_prefix('[')?.split_once("]=")?;
            Some((cmd.to_string(), pkg.to_string()))
        })
        .collect()
}

#[test]
fn shell_scanner_finds_what_a_script_runs() {
    let found = ShellCommands::of(
        r#"#!/usr/bin/env bash
source "$(dirname "$0")/common.sh"   # a comment: notacommand
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
X=1 Y="a b" first --flag "$(second | third)" 2>/dev/null >"$out" </dev/null &
arr=($(fourth)) ; n=$((n + 1)); [ ${#arr[@]} -eq 6 ] || { echo no; exit 1; }
helper() {
  local x; command -v notrun >/dev/null && nohup fifth -x \
    --more args
}
for w in a `sixth` c; do [[ $w == x && -n $w ]] && seventh; done
case "$v" in /*) ;; *) eighth ;; esac
read -r -a ports <<<"$(helper 2>/dev/null || true)"
while read -r l; do :; done < <(ninth)
cat <<'PY' | tenth
notacommand (either)
PY
"$BIN" quorums; ETCDCTL_API=3 eleventh endpoint health
ports=($(twelfth - <<'PY' 2>/dev/null || true
print(") notacommand; (")
PY
))
"#,
    );
    let expected = [
        "dirname", "source", "cd", "pwd", "first", "second", "third", "fourth", "[", "echo",
        "exit", "local", "command", "nohup", "fifth", "sixth", "seventh", "eighth", "read",
        "helper", "true", ":", "ninth", "cat", "tenth", "$BIN", "eleventh", "twelfth",
    ];
    assert_eq!(
        found.commands,
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(found.functions, BTreeSet::from(["helper".to_string()]));
}

/// The scripts that install what they need (a `declare -A PACKAGE_OF=(...)` table, apt-get);
/// the others may run only what every machine has.
const INSTALLING_SCRIPTS: &[&str] = &[
    "bench-locks.sh",
    "availability-bench.sh",
    "netns-cluster.sh",
    "profile.sh",
];

/// Every command `name` (or common.sh, which it sources) runs must be a builtin, always there,
/// its own function, one of `built` (built or installed by the script itself), or installed by
/// its PACKAGE_OF table with the Debian package `debian` gives; and the table installs nothing
/// it never runs (but `for_the_build`, needed by a build the script starts).
fn installs_every_command_it_calls(
    name: &str,
    built: &[&str],
    for_the_build: &[&str],
    debian: &[(&str, &str)],
) {
    let script = read_script(name);
    let mut found = ShellCommands::of(&script);
    let common = ShellCommands::of(&read_script("common.sh"));
    found.commands.extend(common.commands);
    found.functions.extend(common.functions);
    let table = install_table(&script);

    let mut problems = Vec::new();
    for cmd in &found.commands {
        let known = BASH_BUILTINS.contains(&cmd.as_str())
            || ALWAYS_THERE.contains(&cmd.as_str())
            || built.contains(&cmd.as_str())
            || found.functions.contains(cmd);
        if !known && !table.contains_key(cmd) {
            problems.push(format!(
                "runs {cmd}, which PACKAGE_OF does not install (and it is not always there)"
            ));
        }
    }
    for cmd in for_the_build {
        if !table.contains_key(*cmd) {
            problems.push(format!(
                "the build it starts needs {cmd}; PACKAGE_OF lacks it"
            ));
        }
    }
    for (cmd, package) in &table {
        match debian.iter().find(|(c, _)| c == cmd) {
            Some((_, right)) if right == package => {}
            Some((_, right)) => {
                problems.push(format!("{cmd} is in Debian's {right}, not {package}"))
            }
            None => problems.push(format!(
                "{cmd} ({package}): add its Debian package to this test"
            )),
        }
        if !found.commands.contains(cmd) && !for_the_build.contains(&cmd.as_str()) {
            problems.push(format!("installs {package} for {cmd}, which it never runs"));
        }
    }
    assert!(
        problems.is_empty(),
        "scripts/{name}:\n  {}",
        problems.join("\n  ")
    );
}

/// Issue 12, item 9: bench-etcd.sh (now bench-locks.sh) called etcdctl but installed only
/// etcd-server, so on a fresh machine it stopped with "etcd did not become healthy".
#[test]
fn bench_locks_installs_every_command_it_calls() {
    installs_every_command_it_calls(
        "bench-locks.sh",
        // Built or installed by the script: maekawa (build_if_needed), the etcd client, and
        // the venv's python that has kazoo, redis-py and pottery (install_python_clients,
        // with pip).
        &["$BIN", "$CLIENT", "$VENV_PY"],
        // Needed by the build of bench/etcd-lock, not run by the script.
        &["protoc"],
        DEBIAN_PACKAGE_OF,
    );
}

/// availability-bench.sh reads the logs with jq, which it installs when missing.
#[test]
fn availability_bench_installs_every_command_it_calls() {
    installs_every_command_it_calls("availability-bench.sh", &["$BIN"], &[], &[("jq", "jq")]);
}

/// netns-cluster.sh builds its network with ip, which it installs (iproute2) when missing.
#[test]
fn netns_cluster_installs_every_command_it_calls() {
    installs_every_command_it_calls("netns-cluster.sh", &["$BIN"], &[], &[("ip", "iproute2")]);
}

/// profile.sh records with perf (linux-perf) and finds the daemons with pgrep (procps); it
/// builds its own maekawa and installs inferno with cargo.
#[test]
fn profile_installs_every_command_it_calls() {
    installs_every_command_it_calls(
        "profile.sh",
        // $BIN: common.sh's functions (unused here); the rest it builds or installs.
        &["$BIN", "$PROFILE_BIN", "$COLLAPSE", "$FLAMEGRAPH"],
        &[],
        &[
            ("perf", "linux-perf"),
            ("pgrep", "procps"),
            ("python3", "python3"),
        ],
    );
}

/// The other scripts install nothing, so they may run only what every machine has (and
/// maekawa, and each other).
#[test]
fn scripts_run_only_what_a_fresh_machine_has() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sh") && !INSTALLING_SCRIPTS.contains(&n.as_str()))
        .collect();
    names.sort();
    assert!(names.len() >= 5, "{names:?}");
    let common = ShellCommands::of(&read_script("common.sh"));
    let mut problems = Vec::new();
    for name in &names {
        let found = ShellCommands::of(&read_script(name));
        for cmd in &found.commands {
            let sibling = cmd
                .strip_prefix("$(...)/")
                .is_some_and(|s| names.iter().any(|n| n == s));
            let known = BASH_BUILTINS.contains(&cmd.as_str())
                || ALWAYS_THERE.contains(&cmd.as_str())
                || cmd == "$BIN"
                || sibling
                || found.functions.contains(cmd)
                || common.functions.contains(cmd);
            if !known {
                problems.push(format!("scripts/{name} runs {cmd}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "not on every machine (install it, or add it to ALWAYS_THERE if it is):\n  {}",
        problems.join("\n  ")
    );
}

/// The install step for real, with a stand-in apt-get: on a machine with none of the commands,
/// `bench-locks.sh --install-only` asks apt-get for exactly the right packages, then finds every
/// command; a second run installs nothing; and a package that does not bring its command is
/// reported, not left for a confusing failure later.
#[test]
fn bench_locks_install_step_installs_what_is_missing() {
    let which = |cmd: &str| {
        let out = Command::new("bash")
            .args(["-c", &format!("command -v {cmd}")])
            .output()
            .unwrap();
        assert!(out.status.success(), "{cmd} not found");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let bash = which("bash");
    let run = |provides: &[(&str, &str)]| {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        for cmd in ["bash", "dirname"] {
            std::os::unix::fs::symlink(which(cmd), bin.join(cmd)).unwrap();
        }
        // apt-get: logs its arguments; `install P...` puts each command of P into bin/.
        let arms: String = provides
            .iter()
            .map(|(pkg, cmd)| format!("      {pkg}) cmds=\"{cmd}\" ;;\n"))
            .collect();
        let apt_log = dir.path().join("apt.log");
        let stub = format!(
            "#!{bash}\necho \"$*\" >>'{log}'\n[ \"$1\" = install ] || exit 0\nfor p in \"$@\"; do\n  cmds=\"\"\n  case \"$p\" in\n{arms}  esac\n  for c in $cmds; do printf '#!/bin/sh\\nexit 0\\n' >'{bin}'/\"$c\"; /bin/chmod +x '{bin}'/\"$c\"; done\ndone\n",
            log = apt_log.display(),
            bin = bin.display(),
        );
        std::fs::write(bin.join("apt-get"), stub).unwrap();
        std::fs::set_permissions(
            bin.join("apt-get"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        // The Python clients' venv (pip, not apt-get): already there, so only apt-get runs.
        let cache = dir.path().join("cache");
        let venv_bin = cache.join("bench-venv/bin");
        std::fs::create_dir_all(&venv_bin).unwrap();
        std::fs::write(venv_bin.join("python"), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(
            venv_bin.join("python"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let go = || {
            let out = Command::new(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/bench-locks.sh"
            ))
            .arg("--install-only")
            .env_clear()
            .env("PATH", &bin)
            .env("MAEKAWA_BENCH_CACHE", &cache)
            // Not this machine's zookeeper (the script adds that directory to the PATH).
            .env("ZOOKEEPER_BIN", dir.path().join("no-zookeeper"))
            .output()
            .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&apt_log).unwrap_or_default(),
            )
        };
        let first = go();
        let second = go();
        (first, second)
    };

    let ((ok, said, apt), (again_ok, again_said, again_apt)) = run(DEBIAN_PACKAGE_OF
        .iter()
        .map(|(cmd, pkg)| (*pkg, *cmd))
        .collect::<Vec<_>>()
        .as_slice());
    assert!(ok, "{said}");
    let installs: Vec<&str> = apt.lines().filter(|l| l.starts_with("install")).collect();
    assert_eq!(installs.len(), 1, "{apt}");
    let asked: BTreeSet<&str> = installs[0]
        .split_whitespace()
        .skip(1)
        .filter(|w| !w.starts_with('-'))
        .collect();
    let right: BTreeSet<&str> = DEBIAN_PACKAGE_OF.iter().map(|(_, p)| *p).collect();
    assert_eq!(asked, right, "{said}");
    assert!(apt.starts_with("update"), "apt-get update first: {apt}");
    assert!(again_ok, "{again_said}");
    assert_eq!(again_apt, apt, "nothing was missing the second time");

    // etcd-client brings no etcdctl here: said at once, by name.
    let ((ok, said, _), _) = run(&[
        ("etcd-server", "etcd"),
        ("protobuf-compiler", "protoc"),
        ("python3", "python3"),
        ("redis-server", "redis-server"),
        ("redis-tools", "redis-cli"),
        ("zookeeper", "zkServer.sh"),
    ]);
    assert!(!ok, "{said}");
    assert!(
        said.contains("etcdctl is still missing after installing etcd-client"),
        "{said}"
    );
}
