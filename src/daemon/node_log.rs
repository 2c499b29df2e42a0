//! The node's own log, `node-<id>.log`: one flat JSON object per line (PROTOCOL.md §4).
//!
//! Every line starts with `timestamp` (RFC 3339, UTC, microseconds), `level` and `node`, then
//! carries the event's fields at the top level in the order they were given, so that `jq` and
//! [`crate::logs::check`] can read `event`, `msg`, `from`, `votes`, ... directly.
//!
//! While the driver works through a batch of events it holds the lines in memory
//! ([`hold_lines`]) and writes them with one `write(2)` ([`write_held_lines`]) before any
//! message of the batch can leave, so a `send` line is in the file (the page cache, which
//! outlives a `kill -9`) before its `recv` can be. A writer thread fed line by line
//! (tracing-appender's non-blocking writer) cost a futex wake-up and a context switch per
//! line, the largest user-space cost in `maekawa bench` (BENCHMARKS.md). This module only formats and writes; it
//! must not decide what gets logged (the daemon does) and it never rotates or truncates the
//! file.

use super::rotating::{RotatingFile, Rotation};
use crate::logdir;
use maekawa_core::id::NodeId;
use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Fields whose value, when it is the text of a JSON array, is logged as that array: callers
/// write `votes = %json` and readers get `[0,1]`, not `"[0,1]"`.
pub const ARRAY_FIELDS: [&str; 8] = [
    "votes",
    "quorum",
    "granted",
    "missing",
    "queue",
    "peers",
    "from_quorum",
    "to_quorum",
];

/// How every line starts; the time that follows has a fixed width (RFC 3339, microseconds).
const TIMESTAMP_PREFIX: &str = "{\"timestamp\":\"";

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
    #[error("a global tracing subscriber is already installed; call node_log::init once per process, before anything logs")]
    AlreadySet,
}

/// Installs the global subscriber that writes INFO and above to `<log_dir>/node-<id>.log`.
///
/// Keep the returned guard until the process exits: dropping it writes any line still held.
/// Nothing is dropped: a line is either written at once or held until the holder writes it.
pub fn init(log_dir: &Path, node: NodeId) -> Result<LogGuard, LogInitError> {
    init_with_level(log_dir, node, LevelFilter::INFO, Rotation::NEVER)
}

/// As [`init`], rotating the file by size ([`super::rotating`]).
pub fn init_rotating(
    log_dir: &Path,
    node: NodeId,
    rotation: Rotation,
) -> Result<LogGuard, LogInitError> {
    init_with_level(log_dir, node, LevelFilter::INFO, rotation)
}

/// As [`init`], with another level threshold (e.g. `LevelFilter::DEBUG` while investigating)
/// and a rotation.
pub fn init_with_level(
    log_dir: &Path,
    node: NodeId,
    level: LevelFilter,
    rotation: Rotation,
) -> Result<LogGuard, LogInitError> {
    if !log_dir.is_dir() {
        return Err(LogInitError::NoDir {
            dir: log_dir.to_path_buf(),
        });
    }
    let path = logdir::node_log(log_dir, node);
    let file = RotatingFile::open(path.clone(), rotation).map_err(|source| LogInitError::Open {
        path: path.clone(),
        source,
    })?;
    let sink = LineSink::new(file);
    let subscriber =
        tracing_subscriber::registry().with(layer(node, sink.clone()).with_filter(level));
    tracing::subscriber::set_global_default(subscriber).map_err(|_| LogInitError::AlreadySet)?;
    // `set_global_default` succeeds once per process, so this is the first and only sink.
    let _ = GLOBAL_SINK.set(sink.clone());
    Ok(LogGuard(sink))
}

/// The sink of the global subscriber, for [`hold_lines`] and [`write_held_lines`].
static GLOBAL_SINK: OnceLock<LineSink> = OnceLock::new();

/// From now on, lines of the global log are kept in memory until [`write_held_lines`]. The
/// daemon's driver calls it once, before its event loop, and writes the lines at the end of
/// each batch. Without [`init`] (tests with their own subscriber), it does nothing.
pub fn hold_lines() {
    if let Some(sink) = GLOBAL_SINK.get() {
        sink.hold();
    }
}

/// Writes the held lines of the global log with one `write(2)`, and goes on holding. The
/// driver calls it before it lets the batch's messages leave.
pub fn write_held_lines() {
    if let Some(sink) = GLOBAL_SINK.get() {
        sink.write_held();
    }
}

/// Where the held lines of the global log end now: the lines held after this point can be
/// kept back with [`write_held_lines_before`] (0 without [`init`]).
pub fn held_mark() -> usize {
    GLOBAL_SINK.get().map_or(0, LineSink::mark)
}

/// Writes the held lines of the global log that came before `mark` (from [`held_mark`]) with
/// one `write(2)`, and keeps the rest held. The driver writes the lines up to the batch's first
/// journal write before the messages that need no fsync leave.
pub fn write_held_lines_before(mark: usize) {
    if let Some(sink) = GLOBAL_SINK.get() {
        sink.write_held_before(mark);
    }
}

/// Writes every held line of the global log, each stamped anew with the time of this write:
/// the driver calls it after the journal's fsync, so a `send` line held behind the fsync
/// carries the time its message left, not the time the core decided to send it.
pub fn write_held_lines_restamped() {
    if let Some(sink) = GLOBAL_SINK.get() {
        sink.write_held_restamped(SystemTime::now());
    }
}

/// Throws away the held lines of the global log. For a driver that fails in the middle of a
/// batch: its held lines include `send` lines of messages that will never leave now, and a
/// log must not claim they did (what was already written stays).
pub fn discard_held_lines() {
    if let Some(sink) = GLOBAL_SINK.get() {
        sink.discard_held();
    }
}

/// Returned by [`init`]; dropping it writes the lines still held.
#[derive(Debug)]
#[must_use = "dropping the guard at once would only write the held lines early"]
pub struct LogGuard(LineSink);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// Where formatted lines go: straight to the writer, or, while held, into a buffer that
/// [`LineSink::release`] writes at once. Cloning shares the sink.
#[derive(Clone)]
pub struct LineSink {
    inner: Arc<Mutex<SinkState>>,
}

impl fmt::Debug for LineSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("LineSink")
            .field("held", &state.held)
            .field("buffered_bytes", &state.buf.len())
            .finish()
    }
}

struct SinkState {
    out: Box<dyn io::Write + Send>,
    held: bool,
    buf: Vec<u8>,
}

impl LineSink {
    /// A sink writing to `out`, not holding.
    pub fn new(out: impl io::Write + Send + 'static) -> LineSink {
        LineSink {
            inner: Arc::new(Mutex::new(SinkState {
                out: Box::new(out),
                held: false,
                buf: Vec::with_capacity(16 * 1024),
            })),
        }
    }

    /// Keeps the following lines in memory until [`LineSink::release`].
    pub fn hold(&self) {
        self.state().held = true;
    }

    /// Writes the held lines in one write and stops holding.
    pub fn release(&self) {
        self.state().held = false;
        self.write_held();
    }

    /// Writes the held lines in one write; later lines are still held. A failing log must not
    /// take the node down, so an error is dropped (and the held lines with it).
    pub fn write_held(&self) {
        let mut state = self.state();
        let SinkState { out, buf, .. } = &mut *state;
        if !buf.is_empty() {
            let _ = out.write_all(buf);
            buf.clear();
        }
    }

    /// Drops the held lines unwritten; later lines are still held.
    pub fn discard_held(&self) {
        self.state().buf.clear();
    }

    /// The length of what is held now: a place between two lines.
    pub fn mark(&self) -> usize {
        self.state().buf.len()
    }

    /// Writes the held lines before `mark` (a [`LineSink::mark`]) in one write; the lines
    /// after it stay held.
    pub fn write_held_before(&self, mark: usize) {
        let mut state = self.state();
        let SinkState { out, buf, .. } = &mut *state;
        let mark = mark.min(buf.len());
        if mark > 0 {
            let _ = out.write_all(&buf[..mark]);
            buf.drain(..mark);
        }
    }

    /// Writes the held lines in one write, after replacing the `timestamp` each starts with
    /// by `time` (lines from [`format_line`] all start with it, in a fixed width).
    pub fn write_held_restamped(&self, time: SystemTime) {
        let stamp = humantime::format_rfc3339_micros(time).to_string();
        let mut state = self.state();
        let mut at = 0;
        while at < state.buf.len() {
            let end = state.buf[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(state.buf.len(), |i| at + i + 1);
            let value = at + TIMESTAMP_PREFIX.len();
            let line = &state.buf[at..end];
            if line.starts_with(TIMESTAMP_PREFIX.as_bytes())
                && line.get(TIMESTAMP_PREFIX.len() + stamp.len()) == Some(&b'"')
            {
                state.buf[value..value + stamp.len()].copy_from_slice(stamp.as_bytes());
            }
            at = end;
        }
        drop(state);
        self.write_held();
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SinkState> {
        // A panic while holding the lock cannot leave the state inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl io::Write for LineSink {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut state = self.state();
        if state.held {
            state.buf.extend_from_slice(line);
        } else {
            state.out.write_all(line)?;
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LineSink {
    type Writer = LineSink;
    fn make_writer(&'a self) -> LineSink {
        self.clone()
    }
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
        keys: Vec::with_capacity(16),
    };
    v.out.push_str(TIMESTAMP_PREFIX);
    let _ = write!(v.out, "{}", humantime::format_rfc3339_micros(time));
    v.out.push_str("\",\"level\":\"");
    v.out.push_str(level_name(meta.level()));
    let _ = write!(v.out, "\",\"node\":{}", node.0);
    if meta.fields().field("event").is_none() {
        v.out.push_str(",\"event\":\"log\"");
        v.keys.push(Cow::Borrowed("event"));
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
    /// Field names are `'static`: only a renamed duplicate is allocated.
    keys: Vec<Cow<'static, str>>,
}

impl LineVisitor {
    fn key(&mut self, field: &Field) {
        let name = field.name();
        let key = if RESERVED.contains(&name) || self.keys.iter().any(|k| k == name) {
            let mut key = format!("field_{name}");
            while self.keys.iter().any(|k| *k == key) {
                key.insert_str(0, "field_");
            }
            Cow::Owned(key)
        } else {
            Cow::Borrowed(name)
        };
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

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it (`"`, `\\` and control
/// characters; the rest as is), without building a `serde_json::Value` per field: two log
/// lines per message made that a visible cost (BENCHMARKS.md, "CPU per message").
fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[plain..i]);
        if escaped.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escaped);
        }
        plain = i + 1;
    }
    out.push_str(&s[plain..]);
    out.push('"');
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// The hand-written escaper writes exactly what serde_json writes, for every ASCII byte
    /// alone and for random strings mixing quotes, backslashes, control and non-ASCII
    /// characters.
    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let check = |s: &str| {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(out, serde_json::to_string(s).unwrap(), "{s:?}");
        };
        for b in 0u8..0x80 {
            check(&char::from(b).to_string());
            check(&format!("a{}b", char::from(b)));
        }
        check("");
        check("plain");
        check("é\u{2028}\"\\\u{7f}\u{1f}ü");
        let mut runner = proptest::test_runner::TestRunner::new_with_rng(
            ProptestConfig {
                cases: 4096,
                ..ProptestConfig::default()
            },
            proptest::test_runner::TestRng::deterministic_rng(
                proptest::test_runner::RngAlgorithm::ChaCha,
            ),
        );
        runner
            .run(&"(\\PC|[\\x00-\\x1f\"\\\\])*", |s| {
                check(&s);
                Ok(())
            })
            .unwrap();
    }

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
    fn held_lines_wait_for_one_write_and_nothing_is_dropped() {
        /// Counts the writes it gets, to see one write per batch.
        #[derive(Clone, Default)]
        struct Counting(Arc<Mutex<(usize, Vec<u8>)>>);
        impl io::Write for Counting {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                let mut s = self.0.lock().unwrap();
                s.0 += 1;
                s.1.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Counting::default();
        let sink = LineSink::new(out.clone());
        let mut w = sink.clone();
        w.write_all(b"a\n").unwrap();
        assert_eq!(
            *out.0.lock().unwrap(),
            (1, b"a\n".to_vec()),
            "not held: written at once"
        );
        sink.hold();
        w.write_all(b"b\n").unwrap();
        w.write_all(b"c\n").unwrap();
        assert_eq!(out.0.lock().unwrap().0, 1, "held lines wait");
        sink.write_held();
        assert_eq!(
            *out.0.lock().unwrap(),
            (2, b"a\nb\nc\n".to_vec()),
            "one write for both"
        );
        w.write_all(b"d\n").unwrap();
        assert_eq!(out.0.lock().unwrap().0, 2, "still holding after write_held");
        sink.release();
        w.write_all(b"e\n").unwrap();
        assert_eq!(*out.0.lock().unwrap(), (4, b"a\nb\nc\nd\ne\n".to_vec()));
    }

    #[test]
    fn lines_after_a_mark_wait_and_are_stamped_when_written() {
        #[derive(Clone, Default)]
        struct Out(Arc<Mutex<Vec<u8>>>);
        impl io::Write for Out {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let out = Out::default();
        let sink = LineSink::new(out.clone());
        sink.hold();
        let early = "{\"timestamp\":\"2024-01-01T00:00:00.000001Z\",\"event\":\"a\"}\n";
        let late = "{\"timestamp\":\"2024-01-01T00:00:00.000002Z\",\"event\":\"b\"}\n";
        let mut w = sink.clone();
        w.write_all(early.as_bytes()).unwrap();
        let mark = sink.mark();
        w.write_all(late.as_bytes()).unwrap();
        w.write_all(b"not a log line\n").unwrap();
        sink.write_held_before(mark);
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            early
        );
        let later =
            SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_700_000_000_123_456);
        sink.write_held_restamped(later);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            format!(
                "{early}{{\"timestamp\":\"2023-11-14T22:13:20.123456Z\",\"event\":\"b\"}}\nnot a log line\n"
            )
        );
        assert_eq!(sink.mark(), 0, "nothing is left held");
        w.write_all(late.as_bytes()).unwrap();
        sink.discard_held();
        sink.write_held();
        assert_eq!(
            String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
            text,
            "discarded lines are never written"
        );
    }

    #[test]
    fn init_refuses_a_missing_directory() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("logs");
        let msg = init(&missing, NodeId(0)).unwrap_err().to_string();
        assert!(msg.contains("logs: log directory does not exist"), "{msg}");
        assert!(msg.contains("--log-dir"), "{msg}");
    }
}
