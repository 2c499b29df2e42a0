//! `maekawa timeline`: a picture of who was in the critical section when, drawn from the logs.
//!
//! One horizontal lane per node, time (seconds since the run's first event) across. A lane shows the node's
//! CS intervals from `critical_section.log` (`enter` → `exit`; a `start` of the same node ends
//! a CS whose holder was killed: drawn up to that restart, outlined in red, a red cross at its
//! end), its waits from its own `node-<id>.log` (`request_cs` → `enter_cs`, lighter), its
//! restarts (every `start` after its first) and the re-votes it made as a voter (`revote`
//! lines: small orange triangles). A CS or a wait still open when its log ends runs to the end.
//!
//! A restart is drawn as a kill (a red vertical line) only when the process before it logged no
//! `stop` in `node-<id>.log`, the rule `maekawa check` uses; after a clean stop (`stop` logged)
//! it is a grey line, and the CS it might have left open is not outlined as killed. Without
//! the node log nothing tells a stop from a kill: it counts as a kill, as in `check`.
//!
//! A whole run of hundreds of entries is a barcode, so a [`Window`] (`--from`/`--to`, in
//! `window`'s forms: seconds since the run's first event, a log time, or `entry:N`) draws a
//! few seconds of it: intervals that cross its edges are cut there, only the restarts and
//! re-votes inside it are marked, the axis keeps the run's own seconds, the title says which
//! part and which CS entries are shown, and each CS bar gets the node's entry number (the `K`
//! of `maekawa report --node N --entry K`) on every lane where the numbers fit.
//!
//! The SVG is drawn with `plotters` (its SVG backend, with its built-in text layout estimate:
//! no system fonts are needed). This module only reads the logs and writes the one picture it
//! is asked for; it must not judge the run (that is [`crate::logs::check`]), and it never modifies,
//! truncates or rotates a log.

use crate::logs::cslog::ReadCsLogError;
use maekawa_core::id::NodeId;
use plotters::style::RGBColor;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

mod draw;
mod read;
mod window;
pub use window::{BoundError, Window, WindowError};

/// The fill of every CS bar in the SVG (`fill` attribute of its `<rect>`), so that tests and
/// tools can find the bars without knowing how the picture is laid out.
pub const CS_FILL: &str = "#1F77B4";

/// The fill of every waiting bar (`request_cs` → `enter_cs`) in the SVG, for the same reason.
pub const WAIT_FILL: &str = "#AEC7E8";

/// The stroke of restart lines and of the outline of a CS cut short by a kill.
pub const KILL_STROKE: &str = "#D62728";

/// The stroke of the line of a start after a clean stop (the process before it logged `stop`):
/// not a kill, so not red.
pub const CLEAN_RESTART_STROKE: &str = "#7F7F7F";

/// The fill of re-vote markers.
pub const REVOTE_FILL: &str = "#FF7F0E";

const CS_COLOR: RGBColor = RGBColor(0x1F, 0x77, 0xB4);
const WAIT_COLOR: RGBColor = RGBColor(0xAE, 0xC7, 0xE8);
const KILL_COLOR: RGBColor = RGBColor(0xD6, 0x27, 0x28);
const CLEAN_RESTART_COLOR: RGBColor = RGBColor(0x7F, 0x7F, 0x7F);
const REVOTE_COLOR: RGBColor = RGBColor(0xFF, 0x7F, 0x0E);
const LANE_COLOR: RGBColor = RGBColor(0xDD, 0xDD, 0xDD);
const LABEL_COLOR: RGBColor = RGBColor(0x44, 0x44, 0x44);
/// Font size of the entry numbers under CS bars.
const LABEL_FONT: i32 = 12;

/// Picture width in pixels; the height grows with the number of lanes.
const WIDTH: u32 = 1200;
/// Pixels above the lanes (title and legend) and below them (time axis), and per lane.
const HEADER: u32 = 70;
const FOOTER: u32 = 60;
const LANE_HEIGHT: u32 = 60;
const FONT: &str = "sans-serif";

/// Why no timeline could be drawn. Each message is one line naming the file and the fix.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    /// `critical_section.log` is missing, unreadable or has a bad line.
    #[error(transparent)]
    CsLog(#[from] ReadCsLogError),
    /// The logs hold no event to draw.
    #[error("{path}: no start, enter or exit line yet; let the nodes run (scripts/start3.sh) until they have started, then draw again")]
    Empty {
        /// The CS log.
        path: PathBuf,
    },
    /// The log directory cannot be listed (to find the node logs).
    #[error("{dir}: cannot list the log directory ({source}); check its permissions or pass --log-dir DIR")]
    ListDir {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A node log exists but cannot be read.
    #[error("{path}: cannot read ({source}); check its permissions")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line that is not JSON, or whose time is missing or not RFC 3339.
    #[error("{path}:{line}: {problem}; the logs must hold only lines written by `maekawa node`")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        problem: String,
    },
    /// `--from`/`--to` name no entry of the run, or make an empty window, or one outside it.
    #[error(transparent)]
    Window(#[from] WindowError),
    /// `plotters` failed to lay the picture out.
    #[error("{path}: cannot draw the timeline ({problem}); please report this with the logs")]
    Draw {
        /// The output file.
        path: PathBuf,
        /// What plotters said.
        problem: String,
    },
    /// The SVG cannot be written.
    #[error("{path}: cannot write the SVG ({source}); check that its directory exists and is writable, or pass -o FILE")]
    Write {
        /// The output file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
}

/// What was drawn, so the command can print a one-line summary and tests can compare it with
/// counts taken from the raw logs.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSummary {
    /// Lanes drawn: every node seen in the CS log or with a `node-<id>.log`.
    pub nodes: usize,
    /// CS intervals drawn: the `enter` lines of the CS log (in a window, those that overlap
    /// it).
    pub entries: usize,
    /// The first and last of them in the CS log's order of `enter` lines, from 1 (what
    /// `--from entry:N` counts); `None` when none is drawn.
    pub entry_range: Option<(usize, usize)>,
    /// All the `enter` lines of the CS log, drawn or not.
    pub run_entries: usize,
    /// Restart markers after a kill: `start` lines of the CS log after the first of each node
    /// whose previous process logged no `stop` in its node log.
    pub restarts: usize,
    /// Markers of a start after a clean stop: the previous process logged `stop`.
    pub clean_restarts: usize,
    /// Re-vote markers: `revote` lines of the node logs.
    pub revotes: usize,
    /// Milliseconds from the first to the last event of the run (the whole run, even when a
    /// window is drawn).
    pub span_ms: f64,
    /// The part drawn, in ms since the run's first event: `0.0` to `span_ms` without a window.
    pub from_ms: f64,
    /// See `from_ms`.
    pub to_ms: f64,
}

/// Draws the timeline of the run whose logs are in `log_dir` as an SVG at `out`.
///
/// Needs `critical_section.log`; node logs are optional (without them a lane shows no waits and
/// no re-votes). Works on the logs of a run still going: a line being written is skipped.
pub fn render_timeline(log_dir: &Path, out: &Path) -> Result<TimelineSummary, TimelineError> {
    render_window(log_dir, out, &Window::default())
}

/// Draws only `window` of the run (see [`Window`]): intervals that cross its edges are cut
/// there, and only the restarts and re-votes inside it are marked; the time axis keeps the
/// run's own seconds, so its labels are the `--from`/`--to` values. A window that names no
/// entry of the run, is empty, or lies outside the run is a [`TimelineError::Window`].
pub fn render_window(
    log_dir: &Path,
    out: &Path,
    window: &Window,
) -> Result<TimelineSummary, TimelineError> {
    let timeline = Timeline::read(log_dir, window)?;
    let svg = timeline.draw().map_err(|e| TimelineError::Draw {
        path: out.to_path_buf(),
        problem: e.to_string(),
    })?;
    std::fs::write(out, svg).map_err(|source| TimelineError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    Ok(timeline.summary)
}

/// How a CS interval ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsEnd {
    /// An `exit` line.
    Exit,
    /// A `start` of the same node: the holder was killed in the CS.
    Killed,
    /// The log ends (or, in a broken log, another `enter` of the node) first.
    Open,
    /// Killed, but the restart that ends it is after the window: outlined, no cross.
    KilledLater,
}

/// Everything drawn on one node's lane, in ms since the first event.
#[derive(Debug, Default)]
struct Lane {
    cs: Vec<(f64, f64, CsEnd)>,
    /// For each of `cs`, in the same order: the node's entry number (per process, as
    /// `maekawa report --node N --entry K` takes it) and its place in the CS log, from 1.
    cs_entries: Vec<(u64, usize)>,
    waits: Vec<(f64, f64)>,
    /// Starts after a kill.
    restarts: Vec<f64>,
    /// Starts after a clean stop.
    clean_restarts: Vec<f64>,
    revotes: Vec<f64>,
    /// Every `start` of the node in the CS log: (time, incarnation), never cut by a window, so
    /// the picture can say which process a bar belongs to (entry numbers restart at 1 in each).
    starts: Vec<(f64, u64)>,
}

impl Lane {
    /// The incarnation of the node's process at `t` ms: the last `start` at or before it (the
    /// first one before any).
    fn incarnation_at(&self, t: f64) -> u64 {
        self.starts
            .iter()
            .rev()
            .find(|s| s.0 <= t)
            .or(self.starts.first())
            .map_or(0, |s| s.1)
    }

    /// Keeps what overlaps `[x0, x1]` (ms), cut at its edges; marks only inside it. A CS or a
    /// wait of no length counts when it is inside; one that only touches an edge does not.
    fn cut(&mut self, x0: f64, x1: f64) {
        let overlaps = |s: f64, e: f64| (s < x1 && e > x0) || (s == e && x0 <= s && s <= x1);
        let cs = std::mem::take(&mut self.cs);
        let labels = std::mem::take(&mut self.cs_entries);
        for ((s, e, how), label) in cs.into_iter().zip(labels) {
            if overlaps(s, e) {
                let how = match how {
                    CsEnd::Killed if e > x1 => CsEnd::KilledLater,
                    how => how,
                };
                self.cs.push((s.max(x0), e.min(x1), how));
                self.cs_entries.push(label);
            }
        }
        self.waits = std::mem::take(&mut self.waits)
            .into_iter()
            .filter(|&(s, e)| overlaps(s, e))
            .map(|(s, e)| (s.max(x0), e.min(x1)))
            .collect();
        let inside = |t: &f64| x0 <= *t && *t <= x1;
        self.restarts.retain(inside);
        self.clean_restarts.retain(inside);
        self.revotes.retain(inside);
    }
}

/// The whole picture's data, read from the logs.
#[derive(Debug)]
struct Timeline {
    lanes: BTreeMap<NodeId, Lane>,
    summary: TimelineSummary,
    /// Whether a window was asked for (then the header says which part is drawn).
    windowed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, lines: &[&str]) {
        let mut text = lines.join("\n");
        text.push('\n');
        std::fs::write(dir.join(name), text).unwrap();
    }

    fn t(ms: u32) -> String {
        format!("2026-11-24T07:00:00.{:06}Z", ms * 1000)
    }

    fn cs(event: &str, node: u32, extra: &str, ms: u32) -> String {
        format!(
            r#"{{"event":"{event}","node":{node},{extra}"time":"{}"}}"#,
            t(ms)
        )
    }

    fn nl(node: u32, event: &str, ms: u32) -> String {
        // The fields each event must have, with values the timeline does not look at.
        let fields = match event {
            "request_cs" | "cancel_cs" => format!(r#","req_ts":{ms},"req_node":{node}"#),
            "enter_cs" => format!(r#","entry":1,"req_ts":{ms},"req_node":{node}"#),
            "revote" => format!(r#","what":"freed","req_ts":1,"req_node":{node},"why":"test""#),
            "stop" => r#","entries":0,"flushed":true"#.to_string(),
            _ => String::new(),
        };
        format!(
            r#"{{"timestamp":"{}","level":"INFO","node":{node},"event":"{event}"{fields}}}"#,
            t(ms)
        )
    }

    /// A node-log `start` line of incarnation `inc`.
    fn nl_start(node: u32, inc: u64, ms: u32) -> String {
        format!(
            r#"{{"timestamp":"{}","level":"INFO","node":{node},"event":"start","incarnation":{inc}}}"#,
            t(ms)
        )
    }

    /// Node 0 enters and leaves; node 1 enters, is killed inside, restarts; node 0 re-votes.
    fn tiny_run(dir: &Path) {
        let enter = |node: u32, entry: u32, ms: u32| {
            cs(
                "enter",
                node,
                &format!(r#""entry":{entry},"request":{{"ts":1,"node":{node}}},"votes":[0,1],"#),
                ms,
            )
        };
        write(
            dir,
            "critical_section.log",
            &[
                &cs("start", 0, r#""incarnation":1,"#, 0),
                &cs("start", 1, r#""incarnation":1,"#, 10),
                &enter(0, 1, 100),
                &cs("exit", 0, r#""entry":1,"#, 150),
                &enter(1, 1, 200),
                &cs("start", 1, r#""incarnation":2,"#, 400),
                &enter(0, 2, 450),
                &cs("exit", 0, r#""entry":2,"#, 500),
            ],
        );
        write(
            dir,
            "node-0.log",
            &[
                &nl_start(0, 1, 0),
                &nl(0, "request_cs", 90),
                &nl(0, "enter_cs", 100),
                &nl(0, "request_cs", 300),
                &nl(0, "revote", 410),
                &nl(0, "enter_cs", 450),
            ],
        );
        // Node 1's log lost its enter_cs with the kill.
        write(
            dir,
            "node-1.log",
            &[
                &nl_start(1, 1, 10),
                &nl(1, "request_cs", 190),
                &nl_start(1, 2, 400),
            ],
        );
    }

    fn rect_fills(svg: &str) -> Vec<String> {
        let doc = roxmltree::Document::parse(svg).expect("the SVG is XML");
        doc.descendants()
            .filter(|n| n.has_tag_name("rect"))
            .filter_map(|n| n.attribute("fill").map(str::to_string))
            .collect()
    }

    #[test]
    fn colours_match_their_published_fills() {
        let hex = |c: RGBColor| format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
        assert_eq!(hex(CS_COLOR), CS_FILL);
        assert_eq!(hex(WAIT_COLOR), WAIT_FILL);
        assert_eq!(hex(KILL_COLOR), KILL_STROKE);
        assert_eq!(hex(REVOTE_COLOR), REVOTE_FILL);
    }

    #[test]
    fn reads_intervals_kills_restarts_and_revotes() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let tl = Timeline::read(dir.path(), &Window::default()).unwrap();
        assert_eq!(
            tl.summary,
            TimelineSummary {
                nodes: 2,
                entries: 3,
                entry_range: Some((1, 3)),
                run_entries: 3,
                restarts: 1,
                clean_restarts: 0,
                revotes: 1,
                span_ms: 500.0,
                from_ms: 0.0,
                to_ms: 500.0,
            }
        );
        let l0 = &tl.lanes[&NodeId(0)];
        assert_eq!(
            l0.cs,
            [(100.0, 150.0, CsEnd::Exit), (450.0, 500.0, CsEnd::Exit)]
        );
        assert_eq!(l0.waits, [(90.0, 100.0), (300.0, 450.0)]);
        assert_eq!(l0.revotes, [410.0]);
        assert!(l0.restarts.is_empty());
        let l1 = &tl.lanes[&NodeId(1)];
        assert_eq!(l1.cs, [(200.0, 400.0, CsEnd::Killed)]);
        assert_eq!(l1.waits, [(190.0, 400.0)]);
        assert_eq!(l1.restarts, [400.0]);
    }

    /// A withdrawn request (`cancel_cs`) ends its wait there, not at the node's next entry.
    #[test]
    fn a_withdrawn_request_ends_its_wait() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let mut n0 = std::fs::read_to_string(dir.path().join("node-0.log")).unwrap();
        n0 = n0.replace(
            &nl(0, "request_cs", 300),
            &[
                nl(0, "request_cs", 200),
                nl(0, "cancel_cs", 250),
                nl(0, "request_cs", 300),
            ]
            .join("\n"),
        );
        std::fs::write(dir.path().join("node-0.log"), n0).unwrap();
        let tl = Timeline::read(dir.path(), &Window::default()).unwrap();
        assert_eq!(
            tl.lanes[&NodeId(0)].waits,
            [(90.0, 100.0), (200.0, 250.0), (300.0, 450.0)]
        );
    }

    /// Issue 12, item 4: node 0 stops cleanly (`stop`) and starts again; node 1 is killed and
    /// restarted. Only node 1's restart is a kill.
    #[test]
    fn a_clean_stop_and_start_is_not_drawn_as_a_kill() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let mut log = std::fs::read_to_string(dir.path().join("critical_section.log")).unwrap();
        log.push_str(&cs("start", 0, r#""incarnation":2,"#, 600));
        log.push('\n');
        std::fs::write(dir.path().join("critical_section.log"), log).unwrap();
        let mut n0 = std::fs::read_to_string(dir.path().join("node-0.log")).unwrap();
        for line in [
            nl(0, "request_cs", 520),
            nl(0, "stop", 550),
            r#"{"timestamp":"2026-11-24T07:00:00.600000Z","level":"INFO","node":0,"event":"start","incarnation":2}"#.to_string(),
        ] {
            n0.push_str(&line);
            n0.push('\n');
        }
        std::fs::write(dir.path().join("node-0.log"), n0).unwrap();

        let tl = Timeline::read(dir.path(), &Window::default()).unwrap();
        assert_eq!((tl.summary.restarts, tl.summary.clean_restarts), (1, 1));
        let l0 = &tl.lanes[&NodeId(0)];
        assert!(l0.restarts.is_empty(), "{l0:?}");
        assert_eq!(l0.clean_restarts, [600.0]);
        // The stop ends the wait of the process that stopped.
        assert_eq!(l0.waits.last(), Some(&(520.0, 550.0)));
        assert_eq!(tl.lanes[&NodeId(1)].restarts, [400.0]);

        let out = dir.path().join("t.svg");
        render_timeline(dir.path(), &out).unwrap();
        let svg = std::fs::read_to_string(&out).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let lines = |stroke: &str| {
            doc.descendants()
                .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(stroke))
                .count()
        };
        // One restart line each, plus each one's legend swatch.
        assert_eq!(lines(KILL_STROKE), 1 + 1);
        assert_eq!(lines(CLEAN_RESTART_STROKE), 1 + 1);
    }

    /// Issue 12, item 10: a window cuts intervals at its edges and keeps only the marks
    /// inside it; `entry:N` bounds draw those entries whole.
    #[test]
    fn a_window_cuts_intervals_at_its_edges_and_keeps_marks_inside() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let read = |from: Option<&str>, to: Option<&str>| {
            Timeline::read(dir.path(), &Window::parse(from, to).unwrap())
        };
        // 0.12 s to 0.3 s: node 0's first CS (100..150) cut at 120, node 1's killed CS
        // (200..400) cut at 300, its restart and the re-vote (410) outside.
        let tl = read(Some("0.12"), Some("300ms")).unwrap();
        assert_eq!((tl.summary.from_ms, tl.summary.to_ms), (120.0, 300.0));
        assert_eq!(tl.summary.entries, 2);
        assert_eq!(tl.summary.entry_range, Some((1, 2)));
        assert_eq!(tl.summary.run_entries, 3);
        assert_eq!((tl.summary.restarts, tl.summary.revotes), (0, 0));
        assert_eq!(tl.lanes[&NodeId(0)].cs, [(120.0, 150.0, CsEnd::Exit)]);
        // Its second wait starts at 300: it only touches the edge.
        assert!(tl.lanes[&NodeId(0)].waits.is_empty());
        let l1 = &tl.lanes[&NodeId(1)];
        assert_eq!(l1.cs, [(200.0, 300.0, CsEnd::KilledLater)]);
        // Its log lost the enter_cs: the wait runs to the restart, cut at 300.
        assert_eq!(l1.waits, [(190.0, 300.0)]);
        assert!(l1.restarts.is_empty());

        // The kill and the re-vote inside: entry 2 (node 1's) to entry 3 (node 0's second).
        let tl = read(Some("entry:2"), Some("entry:3")).unwrap();
        assert_eq!((tl.summary.from_ms, tl.summary.to_ms), (200.0, 500.0));
        assert_eq!(tl.summary.entry_range, Some((2, 3)));
        assert_eq!((tl.summary.restarts, tl.summary.revotes), (1, 1));
        assert_eq!(tl.lanes[&NodeId(1)].cs, [(200.0, 400.0, CsEnd::Killed)]);
        assert_eq!(tl.lanes[&NodeId(0)].cs, [(450.0, 500.0, CsEnd::Exit)]);
        assert_eq!(tl.lanes[&NodeId(0)].cs_entries, [(2, 3)]);

        // A time of day and an RFC 3339 time, as the logs write them.
        let tl = read(Some("07:00:00.2"), Some("2026-11-24T07:00:00.45Z")).unwrap();
        assert_eq!((tl.summary.from_ms, tl.summary.to_ms), (200.0, 450.0));

        // The picture: the run's own seconds on the axis, the window in the title, one
        // number under each bar, the kill's outline and cross.
        let out = dir.path().join("w.svg");
        let summary = render_window(
            dir.path(),
            &out,
            &Window::parse(Some("entry:2"), Some("entry:3")).unwrap(),
        )
        .unwrap();
        assert_eq!(summary.entries, 2);
        let svg = std::fs::read_to_string(&out).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        assert!(
            texts.contains(
                &"Who was in the critical section when: 0.2 s to 0.5 s of a 0.5 s run (CS entries 2 to 3 of 3)"
            ),
            "{texts:?}"
        );
        for tick in ["0.25", "0.3", "0.5"] {
            assert!(texts.contains(&tick), "tick {tick} in {texts:?}");
        }
        // Entry numbers: node 1's entry 1 and node 0's entry 2.
        assert_eq!(texts.iter().filter(|t| **t == "1").count(), 1, "{texts:?}");
        assert_eq!(texts.iter().filter(|t| **t == "2").count(), 1, "{texts:?}");
        // Node 1 restarted: its lane names the process at the left edge, and the restart line
        // the new one (node 0 had one process: nothing).
        for inc in ["inc 1", "inc 2"] {
            assert_eq!(texts.iter().filter(|t| **t == inc).count(), 1, "{texts:?}");
        }
        let fills = rect_fills(&svg);
        assert_eq!(fills.iter().filter(|f| *f == CS_FILL).count(), 2 + 2);

        // Errors: one line each, naming the flag.
        let err = read(Some("entry:4"), None).unwrap_err();
        assert!(matches!(err, TimelineError::Window(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "--from entry:4: critical_section.log has 3 entries; write entry:1 to entry:3"
        );
        let err = read(Some("0.3"), Some("0.3")).unwrap_err().to_string();
        assert!(
            err.starts_with("--from 0.3 --to 0.3: the window is empty"),
            "{err}"
        );
        assert!(!dir.path().join("never.svg").exists());
        let err = render_window(
            dir.path(),
            &dir.path().join("never.svg"),
            &Window::parse(Some("1"), None).unwrap(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "--from 1: the window starts after the run's last event; the run lasts 0.500 s"
            ),
            "{err}"
        );
        assert!(!dir.path().join("never.svg").exists());
    }

    #[test]
    fn renders_an_svg_with_one_label_per_lane_and_a_bar_per_entry() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let out = dir.path().join("timeline.svg");
        let summary = render_timeline(dir.path(), &out).unwrap();
        assert_eq!(summary.entries, 3);
        let svg = std::fs::read_to_string(&out).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        assert!(doc.root_element().has_tag_name("svg"));
        let texts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.has_tag_name("text"))
            .filter_map(|n| n.text().map(str::trim))
            .collect();
        for label in ["node 0", "node 1"] {
            assert_eq!(texts.iter().filter(|t| **t == label).count(), 1, "{label}");
        }
        let fills = rect_fills(&svg);
        // Three bars plus the legend's two CS swatches; three waits plus the legend's one.
        assert_eq!(fills.iter().filter(|f| *f == CS_FILL).count(), 3 + 2);
        assert_eq!(fills.iter().filter(|f| *f == WAIT_FILL).count(), 3 + 1);
        // The killed CS's outline and its legend swatch.
        let outlines = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("stroke") == Some(KILL_STROKE))
            .count();
        assert_eq!(outlines, 1 + 1);
    }

    #[test]
    fn a_missing_cs_log_names_the_file_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let err = render_timeline(dir.path(), &dir.path().join("t.svg")).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(
            err,
            TimelineError::CsLog(ReadCsLogError::NotFound { .. })
        ));
        assert!(
            msg.contains("critical_section.log") && msg.contains("--log-dir"),
            "{msg}"
        );
        assert!(!dir.path().join("t.svg").exists());
    }

    #[test]
    fn an_empty_cs_log_says_to_let_the_nodes_run() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("critical_section.log"), "").unwrap();
        let err = render_timeline(dir.path(), &dir.path().join("t.svg")).unwrap_err();
        assert!(matches!(err, TimelineError::Empty { .. }), "{err}");
    }

    #[test]
    fn a_bad_time_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "critical_section.log",
            &[r#"{"event":"start","node":0,"incarnation":1,"time":"yesterday"}"#],
        );
        let err = render_timeline(dir.path(), &dir.path().join("t.svg")).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("critical_section.log:1:") && msg.contains("yesterday"),
            "{msg}"
        );
    }

    #[test]
    fn an_unwritable_output_names_it() {
        let dir = tempfile::tempdir().unwrap();
        tiny_run(dir.path());
        let out = dir.path().join("no-such-dir").join("t.svg");
        let err = render_timeline(dir.path(), &out).unwrap_err();
        assert!(matches!(err, TimelineError::Write { .. }), "{err}");
        assert!(err.to_string().contains("-o FILE"));
    }
}
