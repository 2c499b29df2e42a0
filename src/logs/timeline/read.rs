//! Reading a run for the timeline: the CS log's intervals and restarts per node, the waits and
//! re-votes of each node log, in ms since the run's first event, cut to the window asked for.
//!
//! It only reads logs (through [`crate::logs::cslog`] and [`crate::logs::reader`]); drawing is
//! `draw`'s job.

use super::window::{self, Micros, Window};
use super::{CsEnd, Lane, Timeline, TimelineError, TimelineSummary};
use crate::logdir;
use crate::logs::cslog::{self, CsEvent};
use crate::logs::reader;
use crate::node_event::NodeEvent;
use maekawa_core::id::NodeId;
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// A log time that is not RFC 3339 UTC.
#[derive(Debug, thiserror::Error)]
#[error("time {time:?} is not RFC 3339 UTC ({source})")]
struct BadTime {
    /// The time as written.
    time: String,
    /// What the parser said.
    source: humantime::TimestampError,
}

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

/// The CS log's lines with their times, in file order.
type CsEvents = Vec<(usize, Micros, CsEvent)>;

impl Timeline {
    /// Reads the run in `log_dir` and keeps `window` of it.
    pub(super) fn read(log_dir: &Path, window: &Window) -> Result<Timeline, TimelineError> {
        let cs_path = logdir::cs_log(log_dir);
        let events = cs_events(&cs_path)?;
        let node_logs = read_node_logs(log_dir)?;
        let Some((first, last)) = span(&events, &node_logs) else {
            return Err(TimelineError::Empty { path: cs_path });
        };
        let ms = |t: Micros| (t - first) as f64 / 1000.0;
        let end = ms(last);
        let (mut lanes, entries) = cs_lanes(events, &node_logs, ms, end);
        for (node, n) in node_logs {
            let lane = lanes.entry(node).or_default();
            lane.waits = n
                .waits
                .iter()
                .map(|&(a, b)| (ms(a), b.map_or(end, ms)))
                .collect();
            lane.revotes = n.revotes.iter().map(|&t| ms(t)).collect();
        }
        let (x0, x1) = window::Run {
            first,
            end_ms: end,
            entries: &entries,
        }
        .resolve(window)
        .map_err(TimelineError::Window)?;
        for lane in lanes.values_mut() {
            lane.cut(x0, x1);
        }
        let summary = summarize(&lanes, entries.len(), end, (x0, x1));
        Ok(Timeline {
            lanes,
            summary,
            windowed: !window.is_whole(),
        })
    }
}

/// The CS log's lines with their times.
fn cs_events(cs_path: &Path) -> Result<CsEvents, TimelineError> {
    let cs_lines = cslog::read_cs_log(cs_path)?;
    let mut events = Vec::with_capacity(cs_lines.len());
    for l in cs_lines {
        let time = match &l.event {
            CsEvent::Start { time, .. }
            | CsEvent::Enter { time, .. }
            | CsEvent::Exit { time, .. } => parse_time(time),
        }
        .map_err(|e| TimelineError::Malformed {
            path: cs_path.to_path_buf(),
            line: l.line,
            problem: e.to_string(),
        })?;
        events.push((l.line, time, l.event));
    }
    Ok(events)
}

/// The first and the last time of the run, of any log; `None` when nothing happened yet.
fn span(events: &CsEvents, node_logs: &BTreeMap<NodeId, NodeEvents>) -> Option<(Micros, Micros)> {
    let times = events
        .iter()
        .map(|e| e.1)
        .chain(node_logs.values().flat_map(|n| {
            n.waits
                .iter()
                .flat_map(|&(a, b)| std::iter::once(a).chain(b))
                .chain(n.revotes.iter().copied())
        }));
    let first = times.clone().min()?;
    let last = times.max()?;
    Some((first, last))
}

/// The lanes as the CS log draws them (intervals, starts, restarts), and every CS interval in
/// the order of its `enter` line: (enter, end) in ms.
fn cs_lanes(
    events: CsEvents,
    node_logs: &BTreeMap<NodeId, NodeEvents>,
    ms: impl Fn(Micros) -> f64,
    end: f64,
) -> (BTreeMap<NodeId, Lane>, Vec<(f64, f64)>) {
    let mut lanes: BTreeMap<NodeId, Lane> = BTreeMap::new();
    let mut entries: Vec<(f64, f64)> = Vec::new();
    // Per node, the CS it is in: when it entered, its entry number, its place in the log.
    let mut open: BTreeMap<NodeId, (f64, u64, usize)> = BTreeMap::new();
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
                if let Some((s, k, at)) = open.remove(&node) {
                    let how = if clean { CsEnd::Open } else { CsEnd::Killed };
                    lane.cs.push((s, t, how));
                    lane.cs_entries.push((k, at));
                    entries[at - 1].1 = t;
                }
                let n = started.get(&node).map_or(0, |&(_, n)| n);
                lane.starts.push((t, incarnation));
                if n > 0 && clean {
                    lane.clean_restarts.push(t);
                } else if n > 0 {
                    lane.restarts.push(t);
                }
                started.insert(node, (incarnation, n + 1));
            }
            CsEvent::Enter { node, entry, .. } => {
                let lane = lanes.entry(node).or_default();
                entries.push((t, end));
                if let Some((s, k, at)) = open.insert(node, (t, entry, entries.len())) {
                    lane.cs.push((s, t, CsEnd::Open));
                    lane.cs_entries.push((k, at));
                    entries[at - 1].1 = t;
                }
            }
            CsEvent::Exit { node, .. } => {
                let lane = lanes.entry(node).or_default();
                if let Some((s, k, at)) = open.remove(&node) {
                    lane.cs.push((s, t, CsEnd::Exit));
                    lane.cs_entries.push((k, at));
                    entries[at - 1].1 = t;
                }
            }
        }
    }
    for (node, (s, k, at)) in open {
        let lane = lanes.entry(node).or_default();
        lane.cs.push((s, end, CsEnd::Open));
        lane.cs_entries.push((k, at));
    }
    (lanes, entries)
}

/// What was drawn, counted from the lanes cut to the window `(x0, x1)`.
fn summarize(
    lanes: &BTreeMap<NodeId, Lane>,
    run_entries: usize,
    end: f64,
    (x0, x1): (f64, f64),
) -> TimelineSummary {
    let drawn = lanes
        .values()
        .flat_map(|l| l.cs_entries.iter().map(|e| e.1));
    TimelineSummary {
        nodes: lanes.len(),
        entries: lanes.values().map(|l| l.cs.len()).sum(),
        entry_range: drawn.fold(None, |r, at| match r {
            None => Some((at, at)),
            Some((lo, hi)) => Some((at.min(lo), at.max(hi))),
        }),
        run_entries,
        restarts: lanes.values().map(|l| l.restarts.len()).sum(),
        clean_restarts: lanes.values().map(|l| l.clean_restarts.len()).sum(),
        revotes: lanes.values().map(|l| l.revotes.len()).sum(),
        span_ms: end,
        from_ms: x0,
        to_ms: x1,
    }
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
        let text = reader::read_node_log(&path).map_err(|source| TimelineError::Unreadable {
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
    // Lines of other locks than the emulated CS are left out.
    for (line, parsed) in reader::cs_lines(text) {
        let l = parsed.map_err(|problem| malformed(line, problem.describe("event")))?;
        if !matches!(
            l.event,
            NodeEvent::RequestCs { .. }
                | NodeEvent::EnterCs { .. }
                | NodeEvent::CancelCs { .. }
                | NodeEvent::Start { .. }
                | NodeEvent::Stop { .. }
                | NodeEvent::Revote { .. }
        ) {
            continue;
        }
        let time = parse_time(&l.timestamp).map_err(|e| malformed(line, e.to_string()))?;
        match l.event {
            NodeEvent::RequestCs { .. } => {
                // A second request without an entry cannot happen; keep the newer one.
                waiting = Some(time);
            }
            NodeEvent::Revote { .. } => events.revotes.push(time),
            // An entry or a withdrawal ends the wait; a stop or a restart ends the wait of the
            // process before.
            _ => {
                if let Some(w) = waiting.take() {
                    events.waits.push((w, Some(time)));
                }
                match l.event {
                    NodeEvent::Start { incarnation, .. } => {
                        events.processes.push((Some(incarnation), false))
                    }
                    NodeEvent::Stop { .. } => {
                        if let Some(p) = events.processes.last_mut() {
                            p.1 = true;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if let Some(w) = waiting {
        events.waits.push((w, None));
    }
    Ok(events)
}

/// Microseconds since the Unix epoch of an RFC 3339 time as the logs write it.
fn parse_time(s: &str) -> Result<Micros, BadTime> {
    let t = humantime::parse_rfc3339(s).map_err(|source| BadTime {
        time: s.to_string(),
        source,
    })?;
    Ok(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as Micros,
        Err(e) => -(e.duration().as_micros() as Micros),
    })
}
