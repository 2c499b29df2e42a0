//! The one reader of node logs (`node-<id>.log`) that `check`, `report`, `timeline` and
//! `bench` share.
//!
//! The format is [`crate::node_event`]'s: one [`NodeLine`] per line (README.md, "Logs"). This
//! module turns text into those values and, for a line that is not one, says which field is
//! wrong; what the lines mean is each tool's business. It never modifies a log.
//!
//! Since named locks (PROTOCOL.md §6) a node log interleaves the emulated CS (the lock `cs`)
//! with every lock its clients use. `check`'s CS rules, `report` and `timeline` are about the
//! emulated CS: they read node logs through [`cs_lines`], which leaves out every line about
//! another lock ([`NodeEvent::about_cs`](crate::node_event::NodeEvent::about_cs)).

use crate::logdir;
use crate::node_event::{self, NodeLine};
use maekawa_core::id::NodeId;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Why a line of a node log is not a node-log line. Each tool renders it in its error, with
/// the file and the line number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not JSON at all.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// JSON, but not an object.
    #[error("not a JSON object")]
    NotObject,
    /// A known event with a field missing or of the wrong type.
    #[error("{event} event: field {key} is missing or not {expected}")]
    Field {
        /// The line's `event`.
        event: String,
        /// The field.
        key: String,
        /// What it must be ("a non-negative integer").
        expected: &'static str,
    },
    /// A known event that does not read for another reason.
    #[error("{event} event: {problem}")]
    Other {
        /// The line's `event`.
        event: String,
        /// What the parser said.
        problem: String,
    },
}

impl LineError {
    /// The same problem, the event called a `noun` ("line" in `report`'s errors, "event" in
    /// the others').
    pub fn describe(&self, noun: &str) -> String {
        match self {
            LineError::Field {
                event,
                key,
                expected,
            } => format!("{event} {noun}: field {key} is missing or not {expected}"),
            LineError::Other { event, problem } => format!("{event} {noun}: {problem}"),
            other => other.to_string(),
        }
    }
}

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

/// Each line of a node log's text as a [`NodeLine`], numbered from 1, skipping blank lines, a
/// JSON object without `event` (not an event line), and a last line still being written (no
/// newline yet and not valid JSON, as a running node may leave it). A line that is not a
/// node-log line gives `Err` with what is wrong, for the caller to report with the file name;
/// an event this version does not know is
/// [`NodeEvent::Other`](crate::node_event::NodeEvent::Other), for the caller to skip.
pub fn node_lines(text: &str) -> impl Iterator<Item = (usize, Result<NodeLine, LineError>)> + '_ {
    let unterminated_tail = !text.is_empty() && !text.ends_with('\n');
    let count = text.lines().count();
    text.lines()
        .enumerate()
        .filter(|(_, raw)| !raw.trim().is_empty())
        .filter_map(move |(i, raw)| {
            let line = i + 1;
            match node_event::parse_line(raw) {
                Ok(parsed) => Some((line, Ok(parsed))),
                Err(e) => {
                    let torn = unterminated_tail && line == count;
                    diagnose(raw, &e, torn).map(|problem| (line, Err(problem)))
                }
            }
        })
}

/// [`node_lines`] without the lines about other locks than the emulated CS; bad lines are
/// kept, for the caller to report.
pub fn cs_lines(text: &str) -> impl Iterator<Item = (usize, Result<NodeLine, LineError>)> + '_ {
    node_lines(text).filter(|(_, l)| l.as_ref().map_or(true, |l| l.event.about_cs()))
}

/// What is wrong with `raw`, which did not parse (`err`); `None` for a line to skip: the torn
/// last line of a running node, or an object that is not an event line.
fn diagnose(raw: &str, err: &serde_json::Error, torn: bool) -> Option<LineError> {
    let obj = match serde_json::from_str::<Value>(raw) {
        Err(_) if torn => return None,
        Err(e) => return Some(LineError::Json(e.to_string())),
        Ok(Value::Object(obj)) => obj,
        Ok(_) => return Some(LineError::NotObject),
    };
    let event = match obj.get("event")? {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    // The field at fault: the one the parser says is missing, else the event's field without
    // which the parser only misses it (a bad value stops the parser where it stands; a missing
    // one is noticed at the end), else the header field whose replacement by a good value
    // mends the line.
    let key = missing_field(&err.to_string())
        .or_else(|| {
            obj.keys()
                .filter(|k| *k != "event" && !HEADER.iter().any(|(h, _)| h == k))
                .find(|k| {
                    let mut without = obj.clone();
                    without.remove(*k);
                    match parse_value(without) {
                        Ok(()) => true,
                        Err(e) => missing_field(&e.to_string()).as_deref() == Some(k.as_str()),
                    }
                })
                .cloned()
        })
        .or_else(|| {
            HEADER.iter().find_map(|(h, good)| {
                let mut mended = obj.clone();
                mended.insert(h.to_string(), good());
                parse_value(mended).is_ok().then(|| h.to_string())
            })
        });
    let Some(key) = key else {
        return Some(LineError::Other {
            event,
            problem: err.to_string(),
        });
    };
    // What the field must be: what the parser expects in place of a value of no such type.
    let mut probe = obj;
    probe.insert(key.clone(), Value::Object(Map::new()));
    let expected = parse_value(probe)
        .err()
        .map_or("valid", |e| expected(&e.to_string()));
    Some(LineError::Field {
        event,
        key,
        expected,
    })
}

/// Makes a good value of a header key.
type GoodValue = fn() -> Value;

/// The keys every line starts with ([`NodeLine`]'s own), with a good value of each.
const HEADER: [(&str, GoodValue); 3] = [
    ("timestamp", || Value::from("1970-01-01T00:00:00.000000Z")),
    ("level", || Value::from("INFO")),
    ("node", || Value::from(0)),
];

/// Parses an object as a node-log line, for [`diagnose`]: the parser's message, if it fails.
fn parse_value(obj: Map<String, Value>) -> Result<(), serde_json::Error> {
    serde_json::from_value::<NodeLine>(Value::Object(obj)).map(drop)
}

/// The field a serde message says is missing ("missing field `to` at ...").
fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next().map(str::to_string)
}

/// The kind of value a serde message says it expected, in words.
fn expected(message: &str) -> &'static str {
    let want = message.split("expected ").nth(1).unwrap_or("");
    let want = want.split(" at line ").next().unwrap_or(want);
    match want {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a string" | "a borrowed string" => "a string",
        "a boolean" => "a boolean",
        "a sequence" => "a list",
        _ => "valid",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_lines_are_numbered_and_a_torn_tail_is_skipped() {
        let text = "{\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"peer_up\",\"peer\":1}\n\n\
                    {\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"enter_cs\",\"lock\":\"db\",\"req_ts\":1,\"req_node\":0}\n\
                    {\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"peer_up\"}\n\
                    {oops\n[1]\n{\"no_event\":1}\n{\"timestamp\":\"T\",\"le";
        let got: Vec<(usize, bool)> = node_lines(text).map(|(n, r)| (n, r.is_ok())).collect();
        assert_eq!(
            got,
            [(1, true), (3, true), (4, false), (5, false), (6, false)]
        );
        let kept: Vec<usize> = cs_lines(text).map(|(n, _)| n).collect();
        assert_eq!(kept, [1, 4, 5, 6]);
        let errors: Vec<LineError> = node_lines(text).filter_map(|(_, r)| r.err()).collect();
        assert_eq!(
            errors[0],
            LineError::Field {
                event: "peer_up".into(),
                key: "peer".into(),
                expected: "a non-negative integer"
            }
        );
        assert!(errors[1].to_string().starts_with("invalid JSON"));
        assert_eq!(errors[2], LineError::NotObject);
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named_with_what_it_must_be() {
        let line = |rest: &str| {
            format!(
                "{{\"timestamp\":\"T\",\"level\":\"INFO\",\"node\":0,\"event\":\"recv\",{rest}}}\n"
            )
        };
        let bad = |rest: &str| {
            let text = line(rest);
            let err = node_lines(&text).next().unwrap().1.unwrap_err();
            err
        };
        let err = bad(r#""msg":"Grant","from":0,"to":"x","lamport":1,"req_ts":1,"req_node":1"#);
        assert_eq!(
            err.describe("line"),
            "recv line: field to is missing or not a non-negative integer"
        );
        let err =
            bad(r#""msg":"Grant","from":0,"to":1,"lamport":1,"req_ts":1,"req_node":1,"lock":7"#);
        assert_eq!(
            err.to_string(),
            "recv event: field lock is missing or not a string"
        );
        let err = bad(r#""msg":"Grant","from":0,"to":1,"req_ts":1,"req_node":1"#);
        assert_eq!(
            err.to_string(),
            "recv event: field lamport is missing or not a non-negative integer"
        );
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
