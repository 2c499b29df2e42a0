//! The one reader of node logs (`node-<id>.log`) that `check`, `report` and `timeline` share.
//!
//! The format is written by [`crate::daemon::node_log`]: one flat JSON object per line
//! (README.md, "Logs"). This module only turns text into objects; what the lines mean is each
//! tool's business. It never modifies a log.
//!
//! Since named locks (PROTOCOL.md §6) a node log interleaves the emulated CS (the lock `cs`)
//! with every lock its clients use. The tools are about the emulated CS: they read node logs
//! through [`cs_objects`] (or test lines with [`about_cs`]), which leave out every line whose
//! `lock` is present and not `cs`. A line without `lock` (older logs, and node-wide events such
//! as `start`, `stop`, `peer_up`) is about `cs`.

use crate::logdir;
use maekawa_core::id::NodeId;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Every `node-<id>.log` in `dir`, by node. Other files are not looked at.
pub fn node_log_paths(dir: &Path) -> io::Result<BTreeMap<NodeId, PathBuf>> {
    let mut paths = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(node) = entry
            .file_name()
            .to_str()
            .and_then(logdir::node_of_log_name)
        {
            paths.insert(node, entry.path());
        }
    }
    Ok(paths)
}

/// The text of node log `path` with the files rotated out of it before it
/// (`node-<id>.log.N` ... `.1`, oldest first, as many as are left): one node's history as one
/// text. Line numbers in messages count from the first line of the oldest file kept.
pub fn read_node_log(path: &Path) -> io::Result<String> {
    let mut rotated = Vec::new();
    for k in 1.. {
        let older = logdir::rotated_node_log(path, k);
        if !older.exists() {
            break;
        }
        rotated.push(older);
    }
    let mut text = String::new();
    for older in rotated.iter().rev() {
        text.push_str(&std::fs::read_to_string(older)?);
    }
    text.push_str(&std::fs::read_to_string(path)?);
    Ok(text)
}

/// The reading side of this format: the JSON objects of a node log's text, numbered from 1,
/// skipping blank lines and a last line still being written (no newline yet and not valid
/// JSON, as a running node may leave it). A line that is not a JSON object gives `Err` with
/// what is wrong, for the caller to report with the file name.
pub fn json_objects(
    text: &str,
) -> impl Iterator<
    Item = (
        usize,
        Result<serde_json::Map<String, serde_json::Value>, String>,
    ),
> + '_ {
    let unterminated_tail = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .filter_map(move |(i, raw)| {
            let line = i + 1;
            match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(serde_json::Value::Object(obj)) => Some((line, Ok(obj))),
                // A write still in flight while we read.
                Err(_) if unterminated_tail && line == count => None,
                Ok(_) => Some((line, Err("not a JSON object".to_string()))),
                Err(e) => Some((line, Err(format!("invalid JSON: {e}")))),
            }
        })
}

/// The typed reading of this format: each line of a node log's text as a
/// [`NodeLine`](crate::node_event::NodeLine), numbered from 1, skipping blank lines and a last
/// line still being written (as [`json_objects`] does). A line that is not a node-log line (not
/// JSON, or a known event without a key it needs) gives `Err` with what is wrong, for the
/// caller to report with the file name; an event this version does not know is
/// [`NodeEvent::Other`](crate::node_event::NodeEvent::Other), for the caller to skip.
pub fn node_lines(
    text: &str,
) -> impl Iterator<Item = (usize, Result<crate::node_event::NodeLine, String>)> + '_ {
    let unterminated_tail = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .filter_map(move |(i, raw)| {
            let line = i + 1;
            match crate::node_event::parse_line(raw) {
                Ok(parsed) => Some((line, Ok(parsed))),
                // A write still in flight while we read.
                Err(e) if e.is_eof() && unterminated_tail && line == count => None,
                Err(e) if e.is_syntax() || e.is_eof() => {
                    Some((line, Err(format!("invalid JSON: {e}"))))
                }
                Err(e) => Some((line, Err(e.to_string()))),
            }
        })
}

/// [`node_lines`] without the lines about other locks than the emulated CS; bad lines are
/// kept, for the caller to report.
pub fn cs_lines(
    text: &str,
) -> impl Iterator<Item = (usize, Result<crate::node_event::NodeLine, String>)> + '_ {
    node_lines(text).filter(|(_, l)| l.as_ref().map_or(true, |l| l.event.about_cs()))
}

/// The name of the emulated CS as a lock (PROTOCOL.md §6).
pub const CS_LOCK: &str = "cs";

/// The lock a node-log line is about: its `lock` field, or [`CS_LOCK`] when it has none (older
/// logs, node-wide events). `None` when `lock` is present but not a string.
pub fn lock_of(obj: &serde_json::Map<String, serde_json::Value>) -> Option<&str> {
    match obj.get("lock") {
        None => Some(CS_LOCK),
        Some(v) => v.as_str(),
    }
}

/// True unless the line is about another lock than the emulated CS (its `lock` is present and
/// not `cs`): the lines `check`, `report` and `timeline` read about the emulated CS.
pub fn about_cs(obj: &serde_json::Map<String, serde_json::Value>) -> bool {
    lock_of(obj) == Some(CS_LOCK)
}

/// [`json_objects`] without the lines about other locks than the emulated CS ([`about_cs`]);
/// bad lines are kept, for the caller to report.
pub fn cs_objects(
    text: &str,
) -> impl Iterator<
    Item = (
        usize,
        Result<serde_json::Map<String, serde_json::Value>, String>,
    ),
> + '_ {
    json_objects(text).filter(|(_, obj)| obj.as_ref().map_or(true, about_cs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_numbered_from_one_and_a_torn_tail_is_skipped() {
        let text = "{\"event\":\"a\"}\n\n[1]\n{oops\n{\"event\":\"b\"";
        let got: Vec<(usize, Result<String, String>)> = json_objects(text)
            .map(|(n, r)| (n, r.map(|o| o["event"].as_str().unwrap().to_string())))
            .collect();
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!(got[0], (1, Ok("a".to_string())));
        assert_eq!(got[1], (3, Err("not a JSON object".to_string())));
        assert_eq!(got[2].0, 4);
        assert!(got[2].1.as_ref().unwrap_err().starts_with("invalid JSON"));
    }

    #[test]
    fn lines_about_other_locks_are_left_out() {
        let text = "{\"event\":\"start\"}\n\
                    {\"event\":\"enter_cs\",\"lock\":\"cs\"}\n\
                    {\"event\":\"enter_cs\",\"lock\":\"counter\"}\n\
                    {\"event\":\"session_acquire\",\"lock\":\"x\"}\n\
                    {\"event\":\"exit_cs\"}\n\
                    {\"event\":\"odd\",\"lock\":7}\n\
                    oops\n";
        let kept: Vec<usize> = cs_objects(text).map(|(n, _)| n).collect();
        assert_eq!(kept, [1, 2, 5, 7]);
        let objs: Vec<_> = json_objects(text).filter_map(|(_, o)| o.ok()).collect();
        let locks: Vec<Option<&str>> = objs.iter().map(lock_of).collect();
        assert_eq!(
            locks,
            [
                Some("cs"),
                Some("cs"),
                Some("counter"),
                Some("x"),
                Some("cs"),
                None
            ]
        );
    }

    #[test]
    fn typed_lines_are_numbered_and_a_torn_tail_is_skipped() {
        let text = "{\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"peer_up\",\"peer\":1}\n\n\
                    {\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"enter_cs\",\"lock\":\"db\",\"req_ts\":1,\"req_node\":0}\n\
                    {\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"peer_up\"}\n\
                    {oops\n{\"timestamp\":\"T\",\"le";
        let got: Vec<(usize, bool)> = node_lines(text).map(|(n, r)| (n, r.is_ok())).collect();
        assert_eq!(got, [(1, true), (3, true), (4, false), (5, false)]);
        let kept: Vec<usize> = cs_lines(text).map(|(n, _)| n).collect();
        assert_eq!(kept, [1, 4, 5]);
        let (_, missing) = node_lines(text).nth(2).unwrap();
        assert!(missing.unwrap_err().contains("peer"));
    }

    #[test]
    fn node_log_paths_lists_only_node_logs() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "node-2.log",
            "node-10.log",
            "node-2.journal",
            "critical_section.log",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let paths = node_log_paths(dir.path()).unwrap();
        assert_eq!(
            paths.into_iter().collect::<Vec<_>>(),
            [
                (NodeId(2), dir.path().join("node-2.log")),
                (NodeId(10), dir.path().join("node-10.log"))
            ]
        );
        let missing = node_log_paths(&dir.path().join("nope")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
