//! `maekawa timeline`: a picture of who was in the critical section when, drawn from the logs.
//!
//! One horizontal lane per node, time (ms since the first event) across. A lane shows the node's
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
//! The SVG is drawn with `plotters` (its SVG backend, with its built-in text layout estimate:
//! no system fonts are needed). This module only reads the logs and writes the one picture it
//! is asked for; it must not judge the run (that is [`crate::logs::check`]), and it never modifies,
//! truncates or rotates a log.

use crate::logdir;
use crate::logs::cslog::{self, CsEvent, ReadCsLogError};
use crate::logs::reader;
use maekawa_core::id::NodeId;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

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
    /// CS intervals drawn: the `enter` lines of the CS log.
    pub entries: usize,
    /// Restart markers after a kill: `start` lines of the CS log after the first of each node
    /// whose previous process logged no `stop` in its node log.
    pub restarts: usize,
    /// Markers of a start after a clean stop: the previous process logged `stop`.
    pub clean_restarts: usize,
    /// Re-vote markers: `revote` lines of the node logs.
    pub revotes: usize,
    /// Milliseconds from the first to the last event drawn.
    pub span_ms: f64,
}

/// Draws the timeline of the run whose logs are in `log_dir` as an SVG at `out`.
///
/// Needs `critical_section.log`; node logs are optional (without them a lane shows no waits and
/// no re-votes). Works on the logs of a run still going: a line being written is skipped.
pub fn render_timeline(log_dir: &Path, out: &Path) -> Result<TimelineSummary, TimelineError> {
    let timeline = Timeline::read(log_dir)?;
    let svg = timeline.draw().map_err(|problem| TimelineError::Draw {
        path: out.to_path_buf(),
        problem,
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
}

/// Everything drawn on one node's lane, in ms since the first event.
#[derive(Debug, Default)]
struct Lane {
    cs: Vec<(f64, f64, CsEnd)>,
    waits: Vec<(f64, f64)>,
    /// Starts after a kill.
    restarts: Vec<f64>,
    /// Starts after a clean stop.
    clean_restarts: Vec<f64>,
    revotes: Vec<f64>,
}

/// The whole picture's data, read from the logs.
#[derive(Debug)]
struct Timeline {
    lanes: BTreeMap<NodeId, Lane>,
    summary: TimelineSummary,
}

/// An event with its time in microseconds since the Unix epoch (before the origin is known).
type Micros = i128;

/// What one node log contributes.
#[derive(Debug, Default)]
struct NodeEvents {
    /// `(request_cs, end)` where the end is an `enter_cs`, a `stop`, a restart, or `None` (log
    /// ended).
    waits: Vec<(Micros, Option<Micros>)>,
    revotes: Vec<Micros>,
    /// Its processes in `start` order: the incarnation the `start` line names (if it does) and
    /// whether the process logged `stop`.
    processes: Vec<(Option<u64>, bool)>,
}

impl NodeEvents {
    /// Whether the process of incarnation `inc`, the `nth` (from 0) to start, logged `stop`:
    /// found by incarnation, or by its place when the `start` lines name none.
    fn stopped(&self, inc: u64, nth: usize) -> bool {
        self.processes
            .iter()
            .find(|(i, _)| *i == Some(inc))
            .or_else(|| self.processes.get(nth).filter(|(i, _)| i.is_none()))
            .is_some_and(|&(_, stopped)| stopped)
    }
}

impl Timeline {
    fn read(log_dir: &Path) -> Result<Timeline, TimelineError> {
        let cs_path = logdir::cs_log(log_dir);
        let cs_lines = cslog::read_cs_log(&cs_path)?;
        let node_logs = read_node_logs(log_dir)?;

        let mut events: Vec<(usize, Micros, CsEvent)> = Vec::with_capacity(cs_lines.len());
        for l in cs_lines {
            let time = match &l.event {
                CsEvent::Start { time, .. }
                | CsEvent::Enter { time, .. }
                | CsEvent::Exit { time, .. } => parse_time(time),
            }
            .map_err(|problem| TimelineError::Malformed {
                path: cs_path.clone(),
                line: l.line,
                problem,
            })?;
            events.push((l.line, time, l.event));
        }

        let times = events
            .iter()
            .map(|e| e.1)
            .chain(node_logs.values().flat_map(|n| {
                n.waits
                    .iter()
                    .flat_map(|&(a, b)| std::iter::once(a).chain(b))
                    .chain(n.revotes.iter().copied())
            }));
        let (first, last) = times.fold(
            (None, None),
            |(lo, hi): (Option<Micros>, Option<Micros>), t| {
                (
                    Some(lo.map_or(t, |l| l.min(t))),
                    Some(hi.map_or(t, |h| h.max(t))),
                )
            },
        );
        let (Some(first), Some(last)) = (first, last) else {
            return Err(TimelineError::Empty { path: cs_path });
        };
        let ms = |t: Micros| (t - first) as f64 / 1000.0;
        let end = ms(last);

        let mut lanes: BTreeMap<NodeId, Lane> = BTreeMap::new();
        let mut summary = TimelineSummary {
            nodes: 0,
            entries: 0,
            restarts: 0,
            clean_restarts: 0,
            revotes: 0,
            span_ms: end,
        };
        let mut open: BTreeMap<NodeId, f64> = BTreeMap::new();
        // Per node, the incarnation of its last start and how many starts it had.
        let mut started: BTreeMap<NodeId, (u64, usize)> = BTreeMap::new();
        for (_, time, event) in events {
            let t = ms(time);
            match event {
                CsEvent::Start {
                    node, incarnation, ..
                } => {
                    let lane = lanes.entry(node).or_default();
                    // Did the process this start replaces log `stop`? (No node log: a kill.)
                    let clean = started.get(&node).is_some_and(|&(prev, n)| {
                        node_logs.get(&node).is_some_and(|l| l.stopped(prev, n - 1))
                    });
                    if let Some(s) = open.remove(&node) {
                        let how = if clean { CsEnd::Open } else { CsEnd::Killed };
                        lane.cs.push((s, t, how));
                    }
                    let n = started.get(&node).map_or(0, |&(_, n)| n);
                    if n > 0 && clean {
                        lane.clean_restarts.push(t);
                        summary.clean_restarts += 1;
                    } else if n > 0 {
                        lane.restarts.push(t);
                        summary.restarts += 1;
                    }
                    started.insert(node, (incarnation, n + 1));
                }
                CsEvent::Enter { node, .. } => {
                    let lane = lanes.entry(node).or_default();
                    if let Some(s) = open.insert(node, t) {
                        lane.cs.push((s, t, CsEnd::Open));
                    }
                    summary.entries += 1;
                }
                CsEvent::Exit { node, .. } => {
                    let lane = lanes.entry(node).or_default();
                    if let Some(s) = open.remove(&node) {
                        lane.cs.push((s, t, CsEnd::Exit));
                    }
                }
            }
        }
        for (node, s) in open {
            lanes
                .entry(node)
                .or_default()
                .cs
                .push((s, end, CsEnd::Open));
        }
        for (node, n) in node_logs {
            let lane = lanes.entry(node).or_default();
            lane.waits = n
                .waits
                .iter()
                .map(|&(a, b)| (ms(a), b.map_or(end, ms)))
                .collect();
            lane.revotes = n.revotes.iter().map(|&t| ms(t)).collect();
            summary.revotes += lane.revotes.len();
        }
        summary.nodes = lanes.len();
        Ok(Timeline { lanes, summary })
    }

    /// The SVG text of the picture, or what plotters said when it failed.
    fn draw(&self) -> Result<String, String> {
        let n = self.lanes.len();
        let height = HEADER + FOOTER + LANE_HEIGHT * n as u32;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
            self.draw_on(&root).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())?;
        }
        Ok(svg)
    }

    fn draw_on(
        &self,
        root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    ) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
        root.fill(&WHITE)?;
        let (header, body) = root.split_vertically(HEADER);
        draw_header(&header)?;

        let n = self.lanes.len();
        // At least 1 ms wide, and 2% of room after the last event.
        let x_max = self.summary.span_ms.max(1.0) * 1.02;
        let mut chart = ChartBuilder::on(&body)
            .margin_left(10)
            .margin_right(25)
            .margin_top(5)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, -0.5f64..(n as f64 - 0.5))?;
        // Whole milliseconds unless the run is too short for them to tell ticks apart.
        let tick = |v: &f64| {
            if x_max >= 20.0 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}")
            }
        };
        chart
            .configure_mesh()
            .x_label_formatter(&tick)
            .disable_y_mesh()
            .y_labels(0)
            .x_labels(12)
            .x_desc("ms since the first event")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(0xF0, 0xF0, 0xF0))
            .draw()?;

        let plot_px = chart.plotting_area().get_pixel_range().0;
        // One pixel in ms: shorter intervals are widened to it so that they stay visible.
        let px = x_max / f64::from((plot_px.end - plot_px.start).max(1));
        let widen = |(s, e): (f64, f64)| (s, e.max(s + px));

        // Node 0 on top.
        let y_of = |i: usize| (n - 1 - i) as f64;
        for (i, (node, lane)) in self.lanes.iter().enumerate() {
            let y = y_of(i);
            if i + 1 < n {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, y - 0.5), (x_max, y - 0.5)],
                    LANE_COLOR,
                )))?;
            }
            chart.draw_series(lane.waits.iter().map(|&w| {
                let (s, e) = widen(w);
                Rectangle::new([(s, y - 0.2), (e, y + 0.2)], WAIT_COLOR.filled())
            }))?;
            chart.draw_series(lane.cs.iter().map(|&(s, e, _)| {
                let (s, e) = widen((s, e));
                Rectangle::new([(s, y - 0.32), (e, y + 0.32)], CS_COLOR.filled())
            }))?;
            chart.draw_series(lane.cs.iter().filter(|c| c.2 == CsEnd::Killed).map(
                |&(s, e, _)| {
                    let (s, e) = widen((s, e));
                    Rectangle::new([(s, y - 0.36), (e, y + 0.36)], KILL_COLOR)
                },
            ))?;
            chart.draw_series(
                lane.cs
                    .iter()
                    .filter(|c| c.2 == CsEnd::Killed)
                    .map(|&(_, e, _)| Cross::new((e, y), 5, KILL_COLOR.stroke_width(2))),
            )?;
            chart.draw_series(lane.restarts.iter().map(|&t| {
                PathElement::new(
                    vec![(t, y - 0.45), (t, y + 0.45)],
                    KILL_COLOR.stroke_width(2),
                )
            }))?;
            chart.draw_series(lane.clean_restarts.iter().map(|&t| {
                PathElement::new(
                    vec![(t, y - 0.45), (t, y + 0.45)],
                    CLEAN_RESTART_COLOR.stroke_width(2),
                )
            }))?;
            chart.draw_series(
                lane.revotes
                    .iter()
                    .map(|&t| TriangleMarker::new((t, y + 0.4), 4, REVOTE_COLOR.filled())),
            )?;

            let (lx, ly) = chart.backend_coord(&(0.0, y));
            root.draw(&Text::new(
                format!("node {node}"),
                (lx - 12, ly),
                (FONT, 19)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        Ok(())
    }
}

/// What a legend entry shows; the lanes use the same styles.
#[derive(Debug, Clone, Copy)]
enum Swatch {
    Cs,
    KilledCs,
    Wait,
    Restart,
    CleanRestart,
    Revote,
}

const LEGEND: [(Swatch, &str); 6] = [
    (Swatch::Cs, "in the CS"),
    (Swatch::KilledCs, "killed in the CS"),
    (Swatch::Wait, "waiting for votes"),
    (Swatch::Restart, "restart after a kill"),
    (Swatch::CleanRestart, "clean stop, start"),
    (Swatch::Revote, "re-vote (voter's lane)"),
];

/// Title and legend, left to right in one row.
fn draw_header(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    let text = |s: &str, x: i32, y: i32, size: i32| {
        Text::new(
            s.to_string(),
            (x, y),
            (FONT, size)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        )
    };
    area.draw(&text("Who was in the critical section when", 20, 20, 22))?;
    let (y, mut x) = (52, 20);
    for (swatch, label) in LEGEND {
        let (l, r) = (x, x + 22);
        match swatch {
            Swatch::Cs => {
                area.draw(&Rectangle::new([(l, y - 7), (r, y + 7)], CS_COLOR.filled()))?
            }
            Swatch::KilledCs => {
                area.draw(&Rectangle::new([(l, y - 7), (r, y + 7)], CS_COLOR.filled()))?;
                area.draw(&Rectangle::new(
                    [(l - 1, y - 8), (r + 1, y + 8)],
                    KILL_COLOR,
                ))?;
                area.draw(&Cross::new((r, y), 5, KILL_COLOR.stroke_width(2)))?;
            }
            Swatch::Wait => area.draw(&Rectangle::new(
                [(l, y - 4), (r, y + 4)],
                WAIT_COLOR.filled(),
            ))?,
            Swatch::Restart => area.draw(&PathElement::new(
                vec![(l + 11, y - 9), (l + 11, y + 9)],
                KILL_COLOR.stroke_width(2),
            ))?,
            Swatch::CleanRestart => area.draw(&PathElement::new(
                vec![(l + 11, y - 9), (l + 11, y + 9)],
                CLEAN_RESTART_COLOR.stroke_width(2),
            ))?,
            Swatch::Revote => {
                area.draw(&TriangleMarker::new((l + 11, y), 5, REVOTE_COLOR.filled()))?
            }
        }
        area.draw(&text(label, r + 10, y, 16))?;
        // About 7 px per character at this size (SVG text has no exact width before display).
        x = r + 10 + 7 * label.len() as i32 + 30;
    }
    Ok(())
}

/// Every `node-<id>.log` in `log_dir`, read.
fn read_node_logs(log_dir: &Path) -> Result<BTreeMap<NodeId, NodeEvents>, TimelineError> {
    let mut out = BTreeMap::new();
    let paths = match reader::node_log_paths(log_dir) {
        Ok(paths) => paths,
        // No directory: read_cs_log has already said so; nothing else to read.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(source) => {
            return Err(TimelineError::ListDir {
                dir: log_dir.to_path_buf(),
                source,
            })
        }
    };
    for (node, path) in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| TimelineError::Unreadable {
            path: path.clone(),
            source,
        })?;
        out.insert(node, read_node_log(&path, &text)?);
    }
    Ok(out)
}

/// The waits and re-votes of one node log.
fn read_node_log(path: &Path, text: &str) -> Result<NodeEvents, TimelineError> {
    let malformed = |line: usize, problem: String| TimelineError::Malformed {
        path: path.to_path_buf(),
        line,
        problem,
    };
    let mut events = NodeEvents::default();
    let mut waiting: Option<Micros> = None;
    for (line, obj) in reader::json_objects(text) {
        let obj = obj.map_err(|problem| malformed(line, problem))?;
        let Some(event) = obj.get("event").and_then(Value::as_str) else {
            continue;
        };
        if !matches!(
            event,
            "request_cs" | "enter_cs" | "start" | "stop" | "revote"
        ) {
            continue;
        }
        let time = obj
            .get("timestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{event} event: field timestamp is missing or not a string"))
            .and_then(parse_time)
            .map_err(|problem| malformed(line, problem))?;
        match event {
            "request_cs" => {
                // A second request without an entry cannot happen; keep the newer one.
                waiting = Some(time);
            }
            // An entry ends the wait; a stop or a restart ends the wait of the process before.
            "enter_cs" | "start" | "stop" => {
                if let Some(w) = waiting.take() {
                    events.waits.push((w, Some(time)));
                }
                match event {
                    "start" => events
                        .processes
                        .push((obj.get("incarnation").and_then(Value::as_u64), false)),
                    "stop" => {
                        if let Some(p) = events.processes.last_mut() {
                            p.1 = true;
                        }
                    }
                    _ => {}
                }
            }
            _ => events.revotes.push(time),
        }
    }
    if let Some(w) = waiting {
        events.waits.push((w, None));
    }
    Ok(events)
}

/// Microseconds since the Unix epoch of an RFC 3339 time as the logs write it.
fn parse_time(s: &str) -> Result<Micros, String> {
    let t =
        humantime::parse_rfc3339(s).map_err(|e| format!("time {s:?} is not RFC 3339 UTC ({e})"))?;
    Ok(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as Micros,
        Err(e) => -(e.duration().as_micros() as Micros),
    })
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
        format!(
            r#"{{"timestamp":"{}","level":"INFO","node":{node},"event":"{event}"}}"#,
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
                &nl(0, "start", 0),
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
                &nl(1, "start", 10),
                &nl(1, "request_cs", 190),
                &nl(1, "start", 400),
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
        let tl = Timeline::read(dir.path()).unwrap();
        assert_eq!(
            tl.summary,
            TimelineSummary {
                nodes: 2,
                entries: 3,
                restarts: 1,
                clean_restarts: 0,
                revotes: 1,
                span_ms: 500.0
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

        let tl = Timeline::read(dir.path()).unwrap();
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
