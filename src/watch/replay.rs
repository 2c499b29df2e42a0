//! A finished run for `maekawa watch --log-dir`: every node log's lines merged by time, with
//! the kills made visible, and the run's CS entries.
//!
//! No process logs its own death, so a kill is inferred as `maekawa report` infers it: a
//! process that wrote no `stop` before its node's next `start` was killed; a `watch_down` line
//! is put at its last line. Each node log is read with the files rotated out of it before it,
//! oldest first, as `maekawa report` reads it.

use super::own_line;
use crate::logs::reader;
use maekawa_core::id::NodeId;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A run's lines and entries, read once.
pub struct Replay {
    /// The log directory (for stories).
    pub dir: PathBuf,
    /// `/api/log`: every line, merged by time.
    pub log_json: String,
    /// `/api/entries`.
    pub entries_json: String,
    /// The nodes whose logs were found, with the address their first `start` line gives.
    pub nodes: Vec<(NodeId, String)>,
}

/// Why a run cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The directory cannot be listed.
    #[error("{dir}: cannot read ({why}); give the log directory of a run with --log-dir DIR")]
    Unreadable {
        /// The directory.
        dir: PathBuf,
        /// What the system said.
        why: String,
    },
    /// No node log in it.
    #[error("{dir}: no node-<id>.log in it; give the log directory of a run (scripts/start3.sh writes logs/)")]
    Empty {
        /// The directory.
        dir: PathBuf,
    },
}

impl Replay {
    /// Reads every `node-<id>.log` of `dir`.
    pub fn read(dir: &Path) -> Result<Replay, ReplayError> {
        let paths = reader::node_log_paths(dir).map_err(|e| ReplayError::Unreadable {
            dir: dir.to_path_buf(),
            why: e.to_string(),
        })?;
        if paths.is_empty() {
            return Err(ReplayError::Empty {
                dir: dir.to_path_buf(),
            });
        }
        let mut lines: Vec<Value> = Vec::new();
        let mut entries: Vec<Value> = Vec::new();
        let mut nodes = Vec::new();
        for (&id, path) in &paths {
            let text = reader::read_node_log(path).unwrap_or_default();
            let node_lines = with_kills(id, &text, &mut entries);
            let addr = node_lines
                .iter()
                .find(|l| l["event"] == "start")
                .and_then(|l| l["addr"].as_str())
                .unwrap_or_default()
                .to_string();
            nodes.push((id, addr));
            lines.extend(node_lines);
        }
        // RFC 3339 times in UTC with microseconds sort as text; a stable sort keeps each
        // node's own order between lines of the same microsecond.
        lines.sort_by(|a, b| time_of(a).cmp(time_of(b)));
        entries.sort_by(|a, b| time_of(a).cmp(time_of(b)));
        Ok(Replay {
            dir: dir.to_path_buf(),
            log_json: Value::Array(lines).to_string(),
            entries_json: Value::Array(entries).to_string(),
            nodes,
        })
    }
}

fn time_of(line: &Value) -> &str {
    line["timestamp"].as_str().unwrap_or("")
}

/// Node `id`'s lines, each a JSON object (unreadable lines skipped), with a `watch_down` at the
/// last line of every process killed before the next `start`; its `enter_cs` lines go to
/// `entries`.
fn with_kills(id: NodeId, text: &str, entries: &mut Vec<Value>) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    // A log whose first process's `start` was rotated away still began with a process.
    let mut stopped = false;
    let mut inc: Option<u64> = None;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        // Merging sorts by this text: a line without a real time would sort first and stall
        // the page's clock.
        if v["timestamp"]
            .as_str()
            .is_none_or(|t| humantime::parse_rfc3339(t).is_err())
        {
            continue;
        }
        match v["event"].as_str() {
            Some("start") => {
                if !stopped {
                    if let Some(last) = out.last() {
                        let mut down = own_line(
                            id,
                            std::time::SystemTime::UNIX_EPOCH,
                            "watch_down",
                            json!({"why": "killed"}),
                        );
                        down["timestamp"] = last["timestamp"].clone();
                        out.push(down);
                    }
                }
                stopped = false;
                inc = v["incarnation"].as_u64().or(inc.map(|i| i + 1));
            }
            Some("stop") => stopped = true,
            Some("enter_cs") => entries.push(json!({
                "node": id.0,
                "entry": v["entry"],
                "inc": inc,
                "timestamp": v["timestamp"],
                "token": v["token"],
                "lock": v.get("lock").cloned().unwrap_or(json!("cs")),
            })),
            _ => {}
        }
        out.push(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(t: u32, event: &str) -> String {
        format!(
            r#"{{"timestamp":"2026-12-07T10:00:{t:02}.000000Z","node":1,"event":"{event}","incarnation":{t}}}"#
        )
    }

    #[test]
    fn a_kill_is_marked_where_the_killed_process_ends_also_for_a_process_rotated_away() {
        let text = [
            line(1, "recv"), // the first process's start was rotated out
            line(2, "start"),
            line(3, "stop"),
            line(4, "start"),
            line(5, "enter_cs"),
            r#"{"timestamp":7,"node":1,"event":"recv"}"#.to_string(),
            line(6, "start"),
        ]
        .join("\n");
        let mut entries = Vec::new();
        let out = with_kills(NodeId(1), &text, &mut entries);
        let events: Vec<&str> = out.iter().map(|l| l["event"].as_str().unwrap()).collect();
        assert_eq!(
            events,
            [
                "recv",
                "watch_down",
                "start",
                "stop",
                "start",
                "enter_cs",
                "watch_down",
                "start"
            ],
            "killed before 2 and before 6, stopped before 4; the line without a time skipped"
        );
        assert_eq!(out[1]["timestamp"], out[0]["timestamp"]);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0]["inc"], 4);
    }
}
