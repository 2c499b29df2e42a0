//! The node's own log, `node-<id>.log`, as a value: a [`NodeLog`] that takes typed
//! [`NodeEvent`]s and writes each as one flat JSON line ([`crate::node_event::write_line`], the
//! one serializer; README.md, "Logs", says what each line means).
//!
//! While the driver works through a batch of events it holds the lines in memory
//! ([`NodeLog::hold`]) and writes them with one `write(2)` ([`NodeLog::write_held`]) before any
//! message of the batch can leave, so a `send` line is in the file (the page cache, which
//! outlives a `kill -9`) before its `recv` can be. A writer thread fed line by line
//! (tracing-appender's non-blocking writer) cost a futex wake-up and a context switch per
//! line, the largest user-space cost in `maekawa bench` (BENCHMARKS.md). The lines held
//! behind the journal's fsync can be kept back ([`NodeLog::mark`],
//! [`NodeLog::write_held_before`]) and stamped with the time they are written
//! ([`NodeLog::write_held_restamped`]); a failed batch's lines are thrown away
//! ([`NodeLog::discard_held`]).
//!
//! Each node's driver owns its log; the transport and the connection limit write their few
//! warnings through clones of the same handle, so several nodes can share a process, each with
//! its own file. This module only formats and writes: it must not decide what gets logged (the
//! daemon does), and it rotates only between batches ([`super::rotating`]), never inside one.

use super::env::Clock;
use super::rotating::{RotatingFile, Rotation};
use crate::logdir;
use crate::node_event::{write_line, NodeEvent, TIMESTAMP_PREFIX};
use maekawa_core::id::NodeId;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;
use tokio::sync::broadcast;

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
}

/// One node's log: where its lines go, straight to the file or, while held, into a buffer
/// written with one `write`. Cloning is cheap and shares the log (the transport and the
/// connection limit hold clones for their warnings).
#[derive(Clone)]
pub struct NodeLog {
    node: NodeId,
    clock: Clock,
    inner: Arc<Mutex<Sink>>,
}

struct Sink {
    out: Box<dyn io::Write + Send>,
    held: bool,
    buf: Vec<u8>,
    /// Readers of the lines as they are written (`maekawa watch`), made at the first one.
    tap: Option<broadcast::Sender<Arc<[u8]>>>,
    /// This process's `start` line, which a reader joining later gets first: it says which
    /// process it is and with what quorum.
    start_line: Option<Arc<[u8]>>,
}

/// Whole log lines, as one write put them out (shared by every reader of the tap).
pub type Lines = Arc<[u8]>;

/// How many writes a slow reader of the tap may fall behind before it loses lines (it is told
/// how many).
const TAP_BACKLOG: usize = 1024;

impl fmt::Debug for NodeLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = self.sink();
        f.debug_struct("NodeLog")
            .field("node", &self.node)
            .field("held", &sink.held)
            .field("buffered_bytes", &sink.buf.len())
            .finish()
    }
}

impl NodeLog {
    /// Opens `<log_dir>/node-<id>.log` for appending, rotating it by size as `rotation` says.
    pub fn open(log_dir: &Path, node: NodeId, rotation: Rotation) -> Result<NodeLog, LogInitError> {
        if !log_dir.is_dir() {
            return Err(LogInitError::NoDir {
                dir: log_dir.to_path_buf(),
            });
        }
        let path = logdir::node_log(log_dir, node);
        let file = RotatingFile::open(path.clone(), rotation)
            .map_err(|source| LogInitError::Open { path, source })?;
        Ok(NodeLog::to_writer(node, file))
    }

    /// A log of node `node` writing to `out`, not holding: for tests and tools that want the
    /// exact lines in memory.
    pub fn to_writer(node: NodeId, out: impl io::Write + Send + 'static) -> NodeLog {
        NodeLog {
            node,
            clock: Clock::System,
            inner: Arc::new(Mutex::new(Sink {
                out: Box::new(out),
                held: false,
                buf: Vec::with_capacity(16 * 1024),
                tap: None,
                start_line: None,
            })),
        }
    }

    /// The same log, its lines stamped by `clock` (a simulated cluster's virtual time).
    pub fn with_clock(mut self, clock: Clock) -> NodeLog {
        self.clock = clock;
        self
    }

    /// The wall time this log stamps its lines with.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The node whose lines these are (every line's `node`).
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Logs `event` now: written at once, or held until the holder writes its batch.
    pub fn log(&self, event: &NodeEvent) {
        self.log_at(self.clock.now(), event);
    }

    /// Logs `event` stamped `time`.
    pub fn log_at(&self, time: SystemTime, event: &NodeEvent) {
        let mut sink = self.sink();
        if matches!(event, NodeEvent::Start { .. }) {
            let mut line = Vec::with_capacity(512);
            write_line(&mut line, time, self.node, event);
            sink.start_line = Some(Arc::from(line.as_slice()));
        }
        if sink.held {
            write_line(&mut sink.buf, time, self.node, event);
        } else {
            let mut line = Vec::with_capacity(256);
            write_line(&mut line, time, self.node, event);
            // One write of the whole line; a failing log must not take the node down.
            let _ = sink.out.write_all(&line);
            sink.to_tap(&line);
        }
    }

    /// Keeps the following lines in memory until they are written ([`NodeLog::write_held`])
    /// or thrown away ([`NodeLog::discard_held`]).
    pub fn hold(&self) {
        self.sink().held = true;
    }

    /// Writes the held lines in one write and stops holding.
    pub fn release(&self) {
        let mut sink = self.sink();
        sink.held = false;
        sink.write_held_before(usize::MAX);
    }

    /// Writes the held lines in one write; later lines are still held. A failing log must not
    /// take the node down, so an error is dropped (and the held lines with it).
    pub fn write_held(&self) {
        self.sink().write_held_before(usize::MAX);
    }

    /// Drops the held lines unwritten; later lines are still held. For a batch that failed:
    /// its held lines include `send` lines of messages that will never leave, and a log must
    /// not claim they did.
    pub fn discard_held(&self) {
        self.sink().buf.clear();
    }

    /// The length of what is held now: a place between two lines.
    pub fn mark(&self) -> usize {
        self.sink().buf.len()
    }

    /// Writes the held lines before `mark` (a [`NodeLog::mark`]) in one write; the lines
    /// after it stay held.
    pub fn write_held_before(&self, mark: usize) {
        self.sink().write_held_before(mark);
    }

    /// Writes the held lines in one write, after replacing the `timestamp` each starts with by
    /// `time`: lines held behind the journal's fsync carry the time they (and the messages
    /// they describe) left, not the time the core decided.
    pub fn write_held_restamped(&self, time: SystemTime) {
        let stamp = humantime::format_rfc3339_micros(time).to_string();
        let mut sink = self.sink();
        restamp(&mut sink.buf, stamp.as_bytes());
        sink.write_held_before(usize::MAX);
    }

    /// This process's `start` line (if it logged one yet), then every line written from now
    /// on, in writes of whole lines (a held batch comes as one), for a reader that follows the
    /// node live (`Control.Events`). A reader that falls more than a few thousand writes
    /// behind loses the oldest (the receiver says how many).
    pub fn subscribe(&self) -> (Option<Lines>, broadcast::Receiver<Lines>) {
        let mut sink = self.sink();
        let start = sink.start_line.clone();
        let rx = match &sink.tap {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(TAP_BACKLOG);
                sink.tap = Some(tx);
                rx
            }
        };
        (start, rx)
    }

    fn sink(&self) -> MutexGuard<'_, Sink> {
        // A panic while holding the lock cannot leave the sink inconsistent: keep going.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Sink {
    fn write_held_before(&mut self, mark: usize) {
        let mark = mark.min(self.buf.len());
        if mark > 0 {
            let _ = self.out.write_all(&self.buf[..mark]);
            self.to_tap(&self.buf[..mark]);
            self.buf.drain(..mark);
        }
    }

    /// Hands written lines to the tap's readers, if any (a copy only when someone reads).
    fn to_tap(&self, lines: &[u8]) {
        if let Some(tx) = self.tap.as_ref().filter(|tx| tx.receiver_count() > 0) {
            let _ = tx.send(Arc::from(lines));
        }
    }
}

/// Replaces the timestamp of every line of `buf` that starts with one of `stamp`'s width.
fn restamp(buf: &mut [u8], stamp: &[u8]) {
    let mut at = 0;
    while at < buf.len() {
        let end = buf[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(buf.len(), |i| at + i + 1);
        let value = at + TIMESTAMP_PREFIX.len();
        let line = &buf[at..end];
        if line.starts_with(TIMESTAMP_PREFIX.as_bytes())
            && line.get(TIMESTAMP_PREFIX.len() + stamp.len()) == Some(&b'"')
        {
            buf[value..value + stamp.len()].copy_from_slice(stamp);
        }
        at = end;
    }
}

#[cfg(test)]
mod tests;
