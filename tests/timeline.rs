//! `maekawa timeline` on the logs of real runs: the SVG parses, has one lane label per node, a
//! CS bar for every `enter` line, and marks restarts and a node killed inside the CS; a clean
//! stop is not drawn as a kill; `--from`/`--to` draw a window.

mod common;

use common::*;
use maekawa::logs::timeline::{render_timeline, CS_FILL, KILL_STROKE};
use serde_json::Value;
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);
const BUSY: [&str; 4] = ["--think-ms", "0..10", "--hold-ms", "0..2"];

fn enters_of(c: &Cluster, node: u64) -> usize {
    c.cs_lines()
        .iter()
        .filter(|l| l["event"] == "enter" && l["node"] == node)
        .count()
}

/// The text of every `<text>` element, trimmed (the SVG backend puts it on its own line).
fn texts(doc: &roxmltree::Document<'_>) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

fn count(doc: &roxmltree::Document<'_>, tag: &str, attr: &str, value: &str) -> usize {
    doc.descendants()
        .filter(|n| n.has_tag_name(tag) && n.attribute(attr) == Some(value))
        .count()
}

fn assert_one_label_per_node(doc: &roxmltree::Document<'_>, n: usize) {
    let texts = texts(doc);
    for id in 0..n {
        let label = format!("node {id}");
        assert_eq!(
            texts.iter().filter(|t| **t == label).count(),
            1,
            "{label:?} once among {texts:?}"
        );
    }
    let lanes = texts.iter().filter(|t| t.starts_with("node ")).count();
    assert_eq!(lanes, n, "one lane label per node: {texts:?}");
}

#[test]
fn the_timeline_of_a_real_run_has_a_lane_per_node_and_a_bar_per_entry() {
    let mut c = Cluster::start(3, &BUSY);
    wait_for("every node to enter 5 times", WAIT, || {
        c.entries(3).iter().all(|&e| e >= 5)
    });
    c.kill9(1);
    let before = enters_of(&c, 1);
    c.start_node(1, &BUSY);
    wait_for("the restarted node 1 to enter twice", WAIT, || {
        enters_of(&c, 1) >= before + 2
    });
    c.stop_all();

    let out = c.dir.path().join("timeline.svg");
    let summary = render_timeline(&c.log_dir, &out).expect("render the timeline");
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the timeline is well-formed XML");
    assert!(doc.root_element().has_tag_name("svg"), "root is <svg>");
    assert_one_label_per_node(&doc, 3);

    let cs = c.cs_lines();
    let enters = cs.iter().filter(|l| l["event"] == "enter").count();
    let bars = count(&doc, "rect", "fill", CS_FILL);
    assert!(bars >= enters, "{bars} CS bars for {enters} enter lines");
    let revotes: usize = (0..3)
        .map(|id| {
            c.node_log(id)
                .iter()
                .filter(|l: &&Value| l["event"] == "revote")
                .count()
        })
        .sum();
    assert_eq!(summary.nodes, 3);
    assert_eq!(summary.entries, enters);
    assert_eq!(summary.restarts, 1, "one kill and restart");
    assert_eq!(summary.revotes, revotes);
    assert!(summary.span_ms > 0.0);
    // The restart line (a 2-point red polyline) is there, besides the legend's.
    let red_lines = doc
        .descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(KILL_STROKE))
        .count();
    assert!(red_lines >= 2, "a restart line and the legend's");
}

#[test]
fn a_node_killed_in_the_cs_is_drawn_ending_at_its_restart() {
    let mut c = Cluster::prepare(3);
    // Node 0 only votes; node 1 enters and stays; node 2 asks later and waits behind it.
    c.start_node(0, &["--max-entries", "0"]);
    let hold = [
        "--think-ms",
        "200",
        "--hold-ms",
        "600000",
        "--max-entries",
        "1",
    ];
    c.start_node(1, &hold);
    c.start_node(
        2,
        &["--think-ms", "600", "--hold-ms", "0", "--max-entries", "1"],
    );
    wait_for("node 1 to enter the CS", WAIT, || enters_of(&c, 1) == 1);
    wait_for("node 2 to ask for the CS", WAIT, || {
        c.node_log(2).iter().any(|l| l["event"] == "request_cs")
    });
    c.kill9(1);
    c.start_node(1, &["--max-entries", "0"]);
    wait_for("node 2 to enter after node 1's restart", WAIT, || {
        enters_of(&c, 2) == 1
    });
    c.stop_all();

    let out = c.dir.path().join("timeline.svg");
    let summary = render_timeline(&c.log_dir, &out).expect("render the timeline");
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the timeline is well-formed XML");
    assert_one_label_per_node(&doc, 3);
    assert_eq!(summary.entries, 2);
    assert_eq!(summary.restarts, 1);
    // The killed CS's red outline, and the legend's.
    assert_eq!(count(&doc, "rect", "stroke", KILL_STROKE), 1 + 1);
}

#[test]
fn a_directory_without_a_cs_log_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = render_timeline(dir.path(), &dir.path().join("t.svg")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("critical_section.log")
            && msg.contains("not found")
            && msg.contains("--log-dir"),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "one line: {msg}");
}

/// Issue 12, item 4: node 1 stops cleanly (SIGTERM: it logs `stop`) and starts again; node 2 is
/// killed (`kill -9`: no `stop`) and starts again. `maekawa report` and `maekawa timeline` count
/// and draw only node 2's restart as one after a kill, and node 1's as a clean one.
#[test]
fn a_clean_stop_and_start_is_told_apart_from_a_kill() {
    let mut c = Cluster::start(3, &BUSY);
    wait_for("every node to enter twice", WAIT, || {
        c.entries(3).iter().all(|&e| e >= 2)
    });
    let mut one = c.children[1].take().expect("node 1 runs");
    signal(one.id(), "TERM");
    assert!(
        wait_exit(&mut one, WAIT).success(),
        "node 1 stopped cleanly"
    );
    let before = enters_of(&c, 1);
    c.start_node(1, &BUSY);
    wait_for("node 1 to enter after its clean restart", WAIT, || {
        enters_of(&c, 1) > before
    });
    c.kill9(2);
    let before = enters_of(&c, 2);
    c.start_node(2, &BUSY);
    wait_for("node 2 to enter after its kill and restart", WAIT, || {
        enters_of(&c, 2) > before
    });
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");
    // The raw logs: a stop between node 1's two starts, none between node 2's.
    let events = |id: usize| -> Vec<String> {
        c.node_log(id)
            .iter()
            .filter_map(|l| l["event"].as_str())
            .filter(|e| *e == "start" || *e == "stop")
            .map(str::to_string)
            .collect()
    };
    assert_eq!(events(1), ["start", "stop", "start", "stop"]);
    assert_eq!(events(2), ["start", "start", "stop"]);
    let check = c.check();
    assert!(check.status.success(), "{check:?}");

    let report = Command::new(BIN)
        .args(["report", "--format", "markdown", "--log-dir"])
        .arg(&c.log_dir)
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&report.stdout).to_string();
    assert!(report.status.success(), "{report:?}");
    let cells = |l: &str| -> Vec<String> {
        l.trim_matches('|')
            .split('|')
            .map(|c| c.trim().to_string())
            .collect()
    };
    let header = cells(md.lines().find(|l| l.starts_with("| node |")).unwrap());
    let cell = |node: &str, column: &str| -> String {
        let row = md
            .lines()
            .find(|l| l.starts_with(&format!("| {node} |")))
            .unwrap_or_else(|| panic!("no row {node}:\n{md}"));
        let at = header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no column {column:?}:\n{md}"));
        cells(row)[at].clone()
    };
    assert_eq!(cell("1", "restarts"), "0", "node 1 stopped cleanly:\n{md}");
    assert_eq!(cell("2", "restarts"), "1", "node 2 was killed:\n{md}");
    assert_eq!(cell("all", "restarts"), "1", "{md}");
    assert_eq!(cell("1", "clean restarts"), "1", "{md}");
    assert_eq!(cell("2", "clean restarts"), "0", "{md}");

    let out = c.dir.path().join("timeline.svg");
    let drawn = Command::new(BIN)
        .args(["timeline", "--log-dir"])
        .arg(&c.log_dir)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&drawn.stdout).to_string();
    assert!(drawn.status.success(), "{drawn:?}");
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the timeline is well-formed XML");
    // Node 2's restart line and the legend's; none for node 1.
    assert_eq!(
        count(&doc, "polyline", "stroke", KILL_STROKE),
        1 + 1,
        "{said}"
    );
    assert!(
        said.contains("1 restarts after a kill, 1 clean restarts"),
        "{said}"
    );
}

/// Microseconds since the Unix epoch of a log time (RFC 3339, as the logs write it).
fn micros(t: &str) -> i128 {
    humantime::parse_rfc3339(t)
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as i128
}

/// Runs `maekawa timeline` on `dir` with `args`; (exit code, stdout, stderr).
fn timeline_cli(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("timeline")
        .arg("--log-dir")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Issue 12, item 10: `--from`/`--to` draw a window of a real run, as seconds since its first
/// event or as CS entries in the CS log's order; the intervals drawn are those that overlap the
/// window, counted here from the raw CS log; bad values are one-line errors with exit code 2.
#[test]
fn a_window_of_a_real_run_draws_the_entries_inside_it() {
    let mut c = Cluster::start(3, &["--think-ms", "5..20", "--hold-ms", "1..3"]);
    wait_for("30 CS entries", WAIT, || {
        c.cs_lines()
            .iter()
            .filter(|l| l["event"] == "enter")
            .count()
            >= 30
    });
    let statuses = c.stop_all();
    assert!(statuses.iter().all(|s| s.success()), "{statuses:?}");

    // The CS intervals from the raw CS log, in ms since its first line (the run's first event:
    // every node writes its CS-log start line before anything else).
    let cs = c.cs_lines();
    let t = |l: &Value| micros(l["time"].as_str().unwrap());
    let first = t(&cs[0]);
    let ms = |us: i128| (us - first) as f64 / 1000.0;
    let mut intervals: Vec<(f64, f64)> = Vec::new();
    let mut open: std::collections::BTreeMap<u64, usize> = Default::default();
    for l in &cs {
        let node = l["node"].as_u64().unwrap();
        match l["event"].as_str().unwrap() {
            "enter" => {
                intervals.push((ms(t(l)), f64::INFINITY));
                open.insert(node, intervals.len() - 1);
            }
            _ => {
                if let Some(i) = open.remove(&node) {
                    intervals[i].1 = ms(t(l));
                }
            }
        }
    }
    let n = intervals.len();
    assert!(open.is_empty() && n >= 30, "{n} entries, open {open:?}");

    // By entries: exactly entries 10 to 20 (each drawn whole).
    let out = c.dir.path().join("entries.svg");
    let (code, said, err) = timeline_cli(
        &c.log_dir,
        &[
            "--from",
            "entry:10",
            "--to",
            "entry:20",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        said.contains(&format!("11 CS entries (entry:10 to entry:20 of {n})")),
        "{said}"
    );
    let svg = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    assert_one_label_per_node(&doc, 3);
    // 11 bars and the legend's two CS swatches.
    assert_eq!(count(&doc, "rect", "fill", CS_FILL), 11 + 2, "{said}");
    assert!(
        texts(&doc)
            .iter()
            .any(|t| t.starts_with("Who was in the critical section when: ")
                && t.ends_with(&format!("(CS entries 10 to 20 of {n})"))),
        "{:?}",
        texts(&doc)
    );

    // By seconds since the first event: the middle third of the run.
    let end = intervals.last().unwrap().1;
    let (a, b) = (end / 3.0, 2.0 * end / 3.0);
    let inside = intervals
        .iter()
        .filter(|&&(s, e)| (s < b && e > a) || (s == e && a <= s && s <= b))
        .count();
    let (from, to) = (format!("{:.6}s", a / 1000.0), format!("{b:.3}ms"));
    let out = c.dir.path().join("seconds.svg");
    let (code, said, err) = timeline_cli(
        &c.log_dir,
        &["--from", &from, "--to", &to, "-o", out.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        said.contains(&format!(": 3 nodes, {inside} CS entries (entry:")),
        "{inside} expected: {said}"
    );
    let doc_text = std::fs::read_to_string(&out).unwrap();
    let doc = roxmltree::Document::parse(&doc_text).unwrap();
    assert_eq!(count(&doc, "rect", "fill", CS_FILL), inside + 2, "{said}");

    // Bad values: one line on stderr naming the flag, exit 2, no picture.
    let never = c.dir.path().join("never.svg");
    for (args, expected) in [
        (vec!["--from", "5x"], "--from 5x: not a time or an entry"),
        (
            vec!["--to", "entry:0"],
            "--to entry:0: entries are numbered from 1",
        ),
        (
            vec!["--from", "entry:100000"],
            "--from entry:100000: critical_section.log has",
        ),
        (
            vec!["--from", "entry:20", "--to", "entry:10"],
            "--from entry:20 --to entry:10: the window is empty",
        ),
        (
            vec!["--from", "100000"],
            "--from 100000: the window starts after the run's last event",
        ),
    ] {
        let mut all = args.clone();
        all.extend(["-o", never.to_str().unwrap()]);
        let (code, said, err) = timeline_cli(&c.log_dir, &all);
        assert_eq!(code, 2, "{args:?}: {said}{err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!never.exists(), "{args:?} wrote a picture");
    }
}
