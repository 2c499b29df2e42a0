//! A finished run for `maekawa watch --log-dir`: every node log's lines merged by time, with
//! the kills made visible, and the run's CS entries.
//!
//! No process logs its own death, so a kill is inferred as `maekawa report` infers it: a
//! process that wrote no `stop` before its node's next `start` was killed; a `watch_down` line
//! is put at its last line. Only the current file of each node log is read (`node-<id>.log`,
//! not its rotated predecessors).

use super::own_line;
use crate::logdir;
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
        let listing = std::fs::read_dir(dir).map_err(|e| ReplayError::Unreadable {
            dir: dir.to_path_buf(),
            why: e.to_string(),
        })?;
        let mut ids: Vec<NodeId> = listing
            .filter_map(Result::ok)
            .filter_map(|e| logdir::node_of_log_name(&e.file_name().to_string_lossy()))
            .collect();
        ids.sort();
        if ids.is_empty() {
            return Err(ReplayError::Empty {
                dir: dir.to_path_buf(),
            });
        }
        let mut lines: Vec<Value> = Vec::new();
        let mut entries: Vec<Value> = Vec::new();
        let mut nodes = Vec::new();
        for &id in &ids {
            let text = std::fs::read_to_string(logdir::node_log(dir, id)).unwrap_or_default();
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
    let mut stopped = true;
    let mut inc = 0;
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v["timestamp"].is_null() {
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
                inc = v["incarnation"].as_u64().unwrap_or(inc + 1);
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
