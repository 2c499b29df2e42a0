//! The node's own log, `node-<id>.log`: one flat JSON object per line (PROTOCOL.md §4).
//!
//! Every line starts with `timestamp` (RFC 3339, UTC, microseconds), `level` and `node`, then
//! carries the event's fields at the top level in the order they were given, so that `jq` and
//! [`crate::check`] can read `event`, `msg`, `from`, `votes`, ... directly. Lines go through a
//! non-blocking writer thread so that logging never waits on the disk inside the driver. This
//! module only formats and writes; it must not decide what gets logged (the daemon does) and it
//! never rotates or truncates the file.

use crate::id::NodeId;
use std::fmt::{self, Write as _};
use std::fs::OpenOptions;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Fields whose value, when it is the text of a JSON array, is logged as that array: callers
/// write `votes = %json` and readers get `[0,1]`, not `"[0,1]"`.
pub const ARRAY_FIELDS: [&str; 6] = ["votes", "quorum", "granted", "missing", "queue", "peers"];

/// Keys every line starts with; an event field of the same name is written as `field_<name>`
/// so that no line has a key twice.
const RESERVED: [&str; 3] = ["timestamp", "level", "node"];

/// Why the node log cannot be set up. Each message names the path and the fix.
#[derive(Debug, thiserror::Error)]
pub enum LogInitError {
    /// The log directory is missing or not a directory.
    #[error("{dir}: log directory does not exist; create it (mkdir -p) or pass --log-dir DIR")]
    NoDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The log file cannot be opened for appending.
    #[error("{path}: cannot open for appending ({source}); check the directory's permissions or pass --log-dir DIR")]
    Open {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// Another global subscriber was installed first.
    #[error("a global tracing subscriber is already installed; call logfmt::init once per process, before anything logs")]
    AlreadySet,
}

/// The path of node `node`'s log inside `log_dir`.
pub fn log_path(log_dir: &Path, node: NodeId) -> PathBuf {
    log_dir.join(format!("node-{node}.log"))
}

/// Installs the global subscriber that writes INFO and above to `<log_dir>/node-<id>.log`.
///
/// Keep the returned guard until the process exits: dropping it flushes the lines still queued
/// for the writer thread. The writer is not lossy: if the disk falls behind, logging waits
/// rather than silently dropping a line the checker would miss.
pub fn init(log_dir: &Path, node: NodeId) -> Result<WorkerGuard, LogInitError> {
    init_with_level(log_dir, node, LevelFilter::INFO)
}

/// As [`init`], with another level threshold (e.g. `LevelFilter::DEBUG` while investigating).
pub fn init_with_level(
    log_dir: &Path,
    node: NodeId,
    level: LevelFilter,
) -> Result<WorkerGuard, LogInitError> {
    if !log_dir.is_dir() {
        return Err(LogInitError::NoDir {
            dir: log_dir.to_path_buf(),
        });
    }
    let path = log_path(log_dir, node);
    // Opened here rather than by `tracing_appender::rolling::never`, which panics on failure;
    // the effect is the same: one file, appended to, never rolled.
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .map_err(|source| LogInitError::Open {
            path: path.clone(),
            source,
        })?;
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("maekawa-log")
        .finish(file);
    let subscriber = tracing_subscriber::registry().with(layer(node, writer).with_filter(level));
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogInitError::AlreadySet)?;
    Ok(guard)
}

/// A [`Layer`] writing every event as one flat JSON line to `make_writer`.
///
/// Public so that tests and tools can capture the exact lines the daemon writes
/// (with an in-memory writer under `tracing::subscriber::with_default`).
pub fn layer<W>(node: NodeId, make_writer: W) -> JsonLayer<W>
where
    W: for<'a> MakeWriter<'a> + 'static,
{
    JsonLayer { node, make_writer }
}

/// See [`layer`].
#[derive(Debug)]
pub struct JsonLayer<W> {
    node: NodeId,
    make_writer: W,
}

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = format_line(SystemTime::now(), self.node, event);
        let mut w = self.make_writer.make_writer_for(event.metadata());
        // One write of the whole line; a failing log must not take the node down.
        let _ = w.write_all(line.as_bytes());
    }
}

/// The line (with its `'\n'`) that `event` becomes at `time` on node `node`.
///
/// An event without an `event` field (a plain `info!("text")`, or one from a library) gets
/// `"event":"log"`, so every line has the four leading keys of the contract.
pub fn format_line(time: SystemTime, node: NodeId, event: &Event<'_>) -> String {
    let meta = event.metadata();
    let mut v = LineVisitor {
        out: String::with_capacity(256),
        keys: Vec::new(),
    };
    v.out.push_str("{\"timestamp\":\"");
    let _ = write!(v.out, "{}", humantime::format_rfc3339_micros(time));
    v.out.push_str("\",\"level\":\"");
    v.out.push_str(level_name(meta.level()));
    let _ = write!(v.out, "\",\"node\":{}", node.0);
    if meta.fields().field("event").is_none() {
        v.out.push_str(",\"event\":\"log\"");
        v.keys.push("event".to_string());
    }
    event.record(&mut v);
    v.out.push_str("}\n");
    v.out
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

struct LineVisitor {
    out: String,
    /// Keys written so far besides the reserved ones (an event has a handful: a Vec is enough).
    keys: Vec<String>,
}

impl LineVisitor {
    fn key(&mut self, field: &Field) {
        let name = field.name();
        let mut key = if RESERVED.contains(&name) || self.keys.iter().any(|k| k == name) {
            format!("field_{name}")
        } else {
            name.to_string()
        };
        while self.keys.contains(&key) {
            key.insert_str(0, "field_");
        }
        self.out.push(',');
        push_json_string(&mut self.out, &key);
        self.out.push(':');
        self.keys.push(key);
    }

    fn text(&mut self, field: &Field, s: &str) {
        if field.name() == "message" && s.is_empty() {
            return;
        }
        if ARRAY_FIELDS.contains(&field.name()) {
            if let Ok(array @ serde_json::Value::Array(_)) = serde_json::from_str(s) {
                self.key(field);
                self.out.push_str(&array.to_string());
                return;
            }
        }
        self.key(field);
        push_json_string(&mut self.out, s);
    }

    fn number(&mut self, field: &Field, n: impl fmt::Display) {
        self.key(field);
        let _ = write!(self.out, "{n}");
    }
}

fn push_json_string(out: &mut String, s: &str) {
    out.push_str(&serde_json::Value::from(s).to_string());
}

impl Visit for LineVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        match serde_json::Number::from_f64(value) {
            Some(n) => self.number(field, n),
            // JSON has no NaN or infinity: keep the value readable as text.
            None => self.text(field, &value.to_string()),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, value);
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        self.number(field, value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.number(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, &format!("{value:?}"));
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` under the layer and returns the lines it wrote, with timestamps checked and
    /// replaced by `T`.
    fn capture(f: impl FnOnce()) -> Vec<String> {
        let buf = Buf::default();
        let w = buf.clone();
        let sub = tracing_subscriber::registry().with(layer(NodeId(2), move || w.clone()));
        tracing::subscriber::with_default(sub, f);
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert!(text.is_empty() || text.ends_with('\n'));
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("valid JSON");
                let ts = v["timestamp"].as_str().unwrap();
                assert_eq!(ts.len(), "2024-01-01T00:00:00.000000Z".len(), "{ts}");
                assert!(ts.ends_with('Z') && humantime::parse_rfc3339(ts).is_ok());
                l.replacen(ts, "T", 1)
            })
            .collect()
    }

    #[test]
    fn send_line_is_flat_with_numbers() {
        let lines = capture(|| {
            tracing::info!(
                event = "send",
                msg = "Grant",
                from = 0u32,
                to = 1u32,
                lamport = 5u64,
                req_ts = 3u64,
                req_node = 1u32
            );
        });
        assert_eq!(
            lines,
            [
                r#"{"timestamp":"T","level":"INFO","node":2,"event":"send","msg":"Grant","from":0,"to":1,"lamport":5,"req_ts":3,"req_node":1}"#
            ]
        );
    }

    #[test]
    fn array_fields_become_arrays_other_strings_stay_strings() {
        let votes = serde_json::to_string(&[0u32, 1, 2]).unwrap();
        let lines = capture(|| {
            tracing::info!(
                event = "enter_cs",
                entry = 4u64,
                votes = %votes,
                queue = "[]",
                peers = "not json",
                note = %"[1]",
                ok = true,
                ratio = 0.5f64,
                delta = -3i64
            );
        });
        assert_eq!(
            lines,
            [
                r#"{"timestamp":"T","level":"INFO","node":2,"event":"enter_cs","entry":4,"votes":[0,1,2],"queue":[],"peers":"not json","note":"[1]","ok":true,"ratio":0.5,"delta":-3}"#
            ]
        );
    }

    #[test]
    fn plain_messages_get_an_event_and_empty_messages_vanish() {
        let lines = capture(|| {
            tracing::warn!(peer = 3u32, "link \"down\" for {}s", 2);
            tracing::info!(event = "stop", "");
            tracing::error!(event = "x", node = 9u32, err = ?io::ErrorKind::NotFound);
        });
        assert_eq!(
            lines,
            [
                r#"{"timestamp":"T","level":"WARN","node":2,"event":"log","message":"link \"down\" for 2s","peer":3}"#,
                r#"{"timestamp":"T","level":"INFO","node":2,"event":"stop"}"#,
                r#"{"timestamp":"T","level":"ERROR","node":2,"event":"x","field_node":9,"err":"NotFound"}"#,
            ]
        );
    }

    #[test]
    fn init_refuses_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("logs");
        let msg = init(&missing, NodeId(0)).unwrap_err().to_string();
        assert!(msg.contains("logs: log directory does not exist"), "{msg}");
        assert!(msg.contains("--log-dir"), "{msg}");
        assert_eq!(
            log_path(dir.path(), NodeId(4)),
            dir.path().join("node-4.log")
        );
    }
}
